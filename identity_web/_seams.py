"""Seams shared by more than one layer (kept apart so neither layer imports the other)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from identity_web.protocol._http import Flow
from identity_web.protocol._tokens import TokenResponse
from identity_web.protocol.imds import ManagedIdentitySelector

T = TypeVar("T")


class FlowRunner(Protocol):
    """Runs sans-IO flows over the network (`identity_web.transport.HttpTransport`); used by the
    token acquirer and by the FIC loader's warm-up."""

    def run(self, flow: Flow[T]) -> T: ...

    async def run_async(self, flow: Flow[T]) -> T: ...


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
