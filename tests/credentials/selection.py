"""Selecting a credential outside a token request: the real sync driver, no network."""

from __future__ import annotations

from testkit import offline

from identity_web.credentials import CredentialsProvider, LoadedCredential


def selected(credentials: CredentialsProvider) -> LoadedCredential:
    """`credentials.selected()` run to the end (loaders run, nothing is sent)."""
    return offline(credentials.selected())
