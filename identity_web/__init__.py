"""identity-web: configuration-driven Entra ID token acquisition with mTLS Proof-of-Possession.

The root errors are imported eagerly (they need nothing beyond the standard library). Every
other public name, the credential load errors included, is imported on first use: its module
pulls in cryptography, httpx, pydantic and dependency-injector, and the pytest plugin
(`identity_web.emulator.pytest_plugin`, loaded by every pytest run once identity-web is
installed) must not pay for them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from identity_web._errors import (
    AttestationError,
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
    TokenBindingMismatchError,
    TokenTypeMismatchError,
)
from identity_web._lazy import lazy_attributes as _lazy_attributes

if TYPE_CHECKING:
    from identity_web._factory import BuildError, ServiceProvider, TokenAcquirerFactory
    from identity_web._results import (
        AcquireTokenResult,
        AuthorizationHeaderInformation,
        TokenSource,
    )
    from identity_web._version import __version__ as __version__
    from identity_web.acquisition import (
        AuthorizationHeaderProvider,
        TokenAcquirer,
        TokenRequestOptions,
    )
    from identity_web.credentials import (
        CertificateExpiredError,
        CertificateNotYetValidError,
        CredentialFileError,
        CredentialLoadError,
        IncompleteCredentialError,
        KeyVaultError,
        MalformedCredentialError,
        ManagedIdentityAssertionError,
        MissingPrivateKeyError,
        NoCredentialLoadedError,
        UnsupportedCredentialSourceError,
        WrongPasswordError,
    )
    from identity_web.downstream import DownstreamApi, DownstreamResponse, ResponseValidationError
    from identity_web.protocol import BindingCertificate, ManagedIdentityId, TokenType
    from identity_web.resource._errors import (
        CertificateBindingError,
        InsufficientScopeError,
        MalformedTokenError,
        SigningKeysUnavailableError,
        TokenAudienceError,
        TokenHeaderError,
        TokenIssuerError,
        TokenLifetimeError,
        TokenSignatureError,
        TokenValidationError,
        TokenVersionError,
        UnknownSigningKeyError,
    )

logging.getLogger(__name__).addHandler(logging.NullHandler())

_CREDENTIAL_ERRORS = "identity_web.credentials._errors"
_RESOURCE_ERRORS = "identity_web.resource._errors"

#: Public name → the module that defines it, imported by `__getattr__` on first access.
_LAZY: dict[str, str] = {
    "AcquireTokenResult": "identity_web._results",
    "AuthorizationHeaderInformation": "identity_web._results",
    "AuthorizationHeaderProvider": "identity_web.acquisition",
    "BindingCertificate": "identity_web.protocol",
    "BuildError": "identity_web._factory",
    "CertificateExpiredError": _CREDENTIAL_ERRORS,
    "CertificateNotYetValidError": _CREDENTIAL_ERRORS,
    "CredentialFileError": _CREDENTIAL_ERRORS,
    "CredentialLoadError": _CREDENTIAL_ERRORS,
    "DownstreamApi": "identity_web.downstream",
    "DownstreamResponse": "identity_web.downstream",
    "IncompleteCredentialError": _CREDENTIAL_ERRORS,
    "KeyVaultError": _CREDENTIAL_ERRORS,
    "MalformedCredentialError": _CREDENTIAL_ERRORS,
    "ManagedIdentityAssertionError": _CREDENTIAL_ERRORS,
    "ManagedIdentityId": "identity_web.protocol",
    "MissingPrivateKeyError": _CREDENTIAL_ERRORS,
    "NoCredentialLoadedError": _CREDENTIAL_ERRORS,
    "ResponseValidationError": "identity_web.downstream",
    "ServiceProvider": "identity_web._factory",
    "TokenAcquirer": "identity_web.acquisition",
    "TokenAcquirerFactory": "identity_web._factory",
    "TokenRequestOptions": "identity_web.acquisition",
    "TokenSource": "identity_web._results",
    "TokenType": "identity_web.protocol",
    "UnsupportedCredentialSourceError": _CREDENTIAL_ERRORS,
    "WrongPasswordError": _CREDENTIAL_ERRORS,
    "__version__": "identity_web._version",
    # protecting a web API (identity_web.resource)
    "CertificateBindingError": _RESOURCE_ERRORS,
    "InsufficientScopeError": _RESOURCE_ERRORS,
    "MalformedTokenError": _RESOURCE_ERRORS,
    "SigningKeysUnavailableError": _RESOURCE_ERRORS,
    "TokenAudienceError": _RESOURCE_ERRORS,
    "TokenHeaderError": _RESOURCE_ERRORS,
    "TokenIssuerError": _RESOURCE_ERRORS,
    "TokenLifetimeError": _RESOURCE_ERRORS,
    "TokenSignatureError": _RESOURCE_ERRORS,
    "TokenValidationError": _RESOURCE_ERRORS,
    "TokenVersionError": _RESOURCE_ERRORS,
    "UnknownSigningKeyError": _RESOURCE_ERRORS,
}

__all__ = [
    "AcquireTokenResult",
    "AttestationError",
    "AuthorizationHeaderInformation",
    "AuthorizationHeaderProvider",
    "BindingCertificate",
    "BuildError",
    "CertificateBindingError",
    "CertificateExpiredError",
    "CertificateNotYetValidError",
    "ConfigurationError",
    "ConfigurationProblem",
    "CredentialError",
    "CredentialFileError",
    "CredentialLoadError",
    "CredentialUnavailableError",
    "DownstreamApi",
    "DownstreamApiError",
    "DownstreamResponse",
    "FederatedCredentialError",
    "IdentityWebError",
    "IncompleteCredentialError",
    "InsufficientScopeError",
    "InvalidRequestError",
    "KeyVaultError",
    "MalformedCredentialError",
    "MalformedTokenError",
    "ManagedIdentityAssertionError",
    "ManagedIdentityError",
    "ManagedIdentityId",
    "MissingPrivateKeyError",
    "NetworkError",
    "NoCredentialLoadedError",
    "ResponseValidationError",
    "ServiceError",
    "ServiceProvider",
    "SigningKeysUnavailableError",
    "TokenAcquirer",
    "TokenAcquirerFactory",
    "TokenAcquisitionError",
    "TokenAudienceError",
    "TokenBindingMismatchError",
    "TokenHeaderError",
    "TokenIssuerError",
    "TokenLifetimeError",
    "TokenRequestOptions",
    "TokenSignatureError",
    "TokenSource",
    "TokenType",
    "TokenTypeMismatchError",
    "TokenValidationError",
    "TokenVersionError",
    "UnknownSigningKeyError",
    "UnsupportedCredentialSourceError",
    "WrongPasswordError",
]


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())
