"""identity-web: configuration-driven Entra ID token acquisition with mTLS Proof-of-Possession."""

import logging

from identity_web._binding import BindingCertificate
from identity_web._errors import (
    ConfigurationError,
    ConfigurationProblem,
    CredentialError,
    CredentialUnavailableError,
    DownstreamApiError,
    IdentityWebError,
    InvalidRequestError,
    ManagedIdentityError,
    NetworkError,
    ServiceError,
    TokenAcquisitionError,
    TokenTypeMismatchError,
)
from identity_web._factory import BuildError, ServiceProvider, TokenAcquirerFactory
from identity_web._results import AcquireTokenResult, AuthorizationHeaderInformation, TokenSource
from identity_web.acquisition import TokenAcquirer
from identity_web.downstream import DownstreamApi, DownstreamResponse
from identity_web.headers import AuthorizationHeaderProvider

logging.getLogger(__name__).addHandler(logging.NullHandler())

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
