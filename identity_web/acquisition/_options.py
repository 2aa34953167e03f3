"""The typed seams the token acquirer is built on (credentials, options).

The transport and managed identity seams, shared with the FIC credential, are
`identity_web.protocol.steps.StepRunner` and `identity_web.managed_identity.ManagedIdentityTokens`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol

from identity_web.credentials import LoadedCredential
from identity_web.protocol.steps import Step
from identity_web.settings import ManagedIdentityOptions


class CredentialSource(Protocol):
    """Gives the selected client credential (`identity_web.credentials.CredentialsProvider`)."""

    @property
    def current(self) -> LoadedCredential | None: ...
    @property
    def current_bound(self) -> LoadedCredential | None: ...

    def selected(self, bound: bool = False) -> Step[LoadedCredential]: ...

    def reset(self) -> None: ...

    def reject_selected(self, codes: str, *, bound: bool) -> bool: ...

    def record_rejection(self, codes: str, *, bound: bool) -> None: ...

    def watch(self, changed: Callable[[], None]) -> None:
        """Have `changed()` called after every change of `current` or `current_bound`."""


class AcquireOptions(Protocol):
    """What a token request may carry; `settings.AcquireTokenOptions` is one of these."""

    @property
    def managed_identity(self) -> ManagedIdentityOptions | None: ...
    @property
    def tenant(self) -> str | None: ...
    @property
    def force_refresh(self) -> bool: ...
    @property
    def claims(self) -> str | None: ...
    @property
    def correlation_id(self) -> str | None: ...
    @property
    def extra_query_parameters(self) -> Mapping[str, str]: ...
    @property
    def extra_headers_parameters(self) -> Mapping[str, str]: ...


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class TokenRequestOptions:
    """Per-call options for `TokenAcquirer`, for code that has no settings object at hand.

    Same attribute names as `settings.AcquireTokenOptions`. `managed_identity` set (even to an
    object with every field None, i.e. system-assigned) selects the managed identity path.
    """

    managed_identity: ManagedIdentityOptions | None = None
    tenant: str | None = None
    force_refresh: bool = False
    claims: str | None = None
    correlation_id: str | None = None
    extra_query_parameters: Mapping[str, str] = field(default_factory=_empty)
    extra_headers_parameters: Mapping[str, str] = field(default_factory=_empty, repr=False)
