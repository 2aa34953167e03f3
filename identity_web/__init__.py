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
from identity_web._results import AcquireTokenResult, AuthorizationHeaderInformation, TokenSource

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "AcquireTokenResult",
    "AuthorizationHeaderInformation",
    "BindingCertificate",
    "ConfigurationError",
    "ConfigurationProblem",
    "CredentialError",
    "CredentialUnavailableError",
    "DownstreamApiError",
    "IdentityWebError",
    "InvalidRequestError",
    "ManagedIdentityError",
    "NetworkError",
    "ServiceError",
    "TokenAcquisitionError",
    "TokenSource",
    "TokenTypeMismatchError",
]
