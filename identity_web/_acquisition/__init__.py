"""Implementation of `identity_web.acquisition`: plans, flows, single-flight."""
