"""Seams shared by more than one layer (kept apart so neither layer imports the other)."""

from __future__ import annotations

from typing import Protocol

from identity_web.protocol._http import Flow
from identity_web.protocol._tokens import TokenResponse
from identity_web.protocol.imds import ManagedIdentitySelector


class ManagedIdentityTokens(Protocol):
    """Managed identity tokens as sans-IO flows (`identity_web._managed_identity.
    ManagedIdentityClient`); used by the token acquirer and by the FIC assertion provider."""

    def cache_key_identity(self, identity: ManagedIdentitySelector | None) -> str: ...

    def token_flow(
        self,
        identity: ManagedIdentitySelector | None,
        scope: str,
        *,
        bound: bool,
        now: float,
        claims: str | None = None,
    ) -> Flow[TokenResponse]: ...
