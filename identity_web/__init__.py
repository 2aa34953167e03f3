"""identity-web: configuration-driven Entra ID token acquisition with mTLS Proof-of-Possession.

The errors are imported eagerly (they need nothing beyond the standard library). Every other
public name is imported on first use: its module pulls in cryptography, httpx, pydantic and
dependency-injector, and the pytest plugin (`identity_web.emulator.pytest_plugin`, loaded by
every pytest run once identity-web is installed) must not pay for them.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING

from identity_web._errors import (
    ConfigurationError,
    ConfigurationProblem,
    CredentialError,
    CredentialUnavailableError,
    DownstreamApiError,
    FederatedCredentialError,
    IdentityWebError,
    InvalidRequestError,
    ManagedIdentityError,
    NetworkError,
    ServiceError,
    TokenAcquisitionError,
    TokenTypeMismatchError,
)

if TYPE_CHECKING:
    from identity_web._binding import BindingCertificate
    from identity_web._factory import BuildError, ServiceProvider, TokenAcquirerFactory
    from identity_web._results import (
        AcquireTokenResult,
        AuthorizationHeaderInformation,
        TokenSource,
    )
    from identity_web.acquisition import TokenAcquirer
    from identity_web.downstream import DownstreamApi, DownstreamResponse
    from identity_web.headers import AuthorizationHeaderProvider

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name → the module that defines it, imported by `__getattr__` on first access.
_LAZY: dict[str, str] = {
    "AcquireTokenResult": "identity_web._results",
    "AuthorizationHeaderInformation": "identity_web._results",
    "AuthorizationHeaderProvider": "identity_web.headers",
    "BindingCertificate": "identity_web._binding",
    "BuildError": "identity_web._factory",
    "DownstreamApi": "identity_web.downstream",
    "DownstreamResponse": "identity_web.downstream",
    "ServiceProvider": "identity_web._factory",
    "TokenAcquirer": "identity_web.acquisition",
    "TokenAcquirerFactory": "identity_web._factory",
    "TokenSource": "identity_web._results",
}

__all__ = [
    "AcquireTokenResult",
    "AuthorizationHeaderInformation",
    "AuthorizationHeaderProvider",
    "BindingCertificate",
    "BuildError",
    "ConfigurationError",
    "ConfigurationProblem",
    "CredentialError",
    "CredentialUnavailableError",
    "DownstreamApi",
    "DownstreamApiError",
    "DownstreamResponse",
    "FederatedCredentialError",
    "IdentityWebError",
    "InvalidRequestError",
    "ManagedIdentityError",
    "NetworkError",
    "ServiceError",
    "ServiceProvider",
    "TokenAcquirer",
    "TokenAcquirerFactory",
    "TokenAcquisitionError",
    "TokenSource",
    "TokenTypeMismatchError",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain module attributes
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
