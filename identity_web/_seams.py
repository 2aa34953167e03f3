"""Seams shared by more than one layer (kept apart so neither layer imports the other)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from identity_web.protocol._tokens import TokenResponse
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.protocol.steps import Step

T = TypeVar("T")


class StepRunner(Protocol):
    """Runs steps with the sync or the async driver (`identity_web.transport.HttpTransport`)."""

    def run(self, step: Step[T]) -> T: ...

    async def run_async(self, step: Step[T]) -> T: ...


class ManagedIdentityTokens(Protocol):
    """Managed identity tokens as sans-IO flows (`identity_web._managed_identity.
    ManagedIdentityClient`); used by the token acquirer and by the FIC assertion provider."""

    def token_flow(
        self,
        identity: ManagedIdentityId,
        scope: str,
        *,
        bound: bool,
        now: float,
        claims: str | None = None,
    ) -> Step[TokenResponse]: ...
