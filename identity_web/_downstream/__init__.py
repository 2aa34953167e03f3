"""DownstreamApi internals: sans-IO request building, the call flow and its two drivers.

The public face is `identity_web.downstream`.
"""
