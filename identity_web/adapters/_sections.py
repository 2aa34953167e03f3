"""What every adapter starts from: the built services, and the section (or scope) it serves."""

from __future__ import annotations

from typing import Protocol

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.acquisition import AuthorizationHeaderProvider, TokenAcquirer
from identity_web.settings import DownstreamApiOptions, IdentityWebSettings


class Services(Protocol):
    """The parts of `ServiceProvider` (what `TokenAcquirerFactory.build()` returns) adapters use."""

    @property
    def settings(self) -> IdentityWebSettings: ...
    @property
    def token_acquirer(self) -> TokenAcquirer: ...
    @property
    def authorization_header_provider(self) -> AuthorizationHeaderProvider: ...


def section(
    settings: IdentityWebSettings, name: str | None, scope: str | None
) -> DownstreamApiOptions:
    """The downstream section `name`, or an app-token section for `scope`; exactly one of them."""
    if (name is None) == (scope is None):
        raise TypeError("give the name of a downstream API section, or scope=, not both")
    if name is not None:
        return settings.downstream_api(name)
    return DownstreamApiOptions.model_validate({"Scopes": [scope], "RequestAppToken": True})


def refuse_mtls_pop(options: DownstreamApiOptions, name: str | None, why: str) -> None:
    """A `ConfigurationError` at `<name>.ProtocolScheme` when the section asks for mTLS PoP."""
    if options.is_mtls_pop:
        raise ConfigurationError(
            [ConfigurationProblem(f"{name}.ProtocolScheme", f"is {options.protocol_scheme}: {why}")]
        )


def missing(module: str, extra: str) -> ImportError:
    """The error for an optional dependency that is not installed: which extra brings it."""
    return ImportError(
        f"{module} is not installed; install it with: pip install 'identity-web[{extra}]'"
    )
