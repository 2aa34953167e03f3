"""Protect a web API with Entra ID access tokens, certificate-bound ones (RFC 8705) included.

`ProtectedWebApi.from_settings()` reads the `AzureAd` section (Identity.Web's web API keys plus
`RequireBoundTokens` and `ClientCertificateHeader`); `TokenValidator` does the checks; the
adapters plug it into frameworks: `identity_web.resource.asgi.WebApiMiddleware`,
`identity_web.resource.fastapi.WebApiAuth`, `identity_web.resource.flask.FlaskWebApi`.
See docs/web-api.md.
"""

from identity_web.resource._api import ErrorResponse, ProtectedWebApi
from identity_web.resource._certificates import ClientCertificateSource
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
from identity_web.resource._keys import JwksSigningKeys, OpenIdSigningKeys, SigningKeys
from identity_web.resource._options import IssuerTemplate, TokenValidationOptions
from identity_web.resource._token import AuthorizationScheme, ValidatedToken
from identity_web.resource._validator import TokenValidator

__all__ = [
    "AuthorizationScheme",
    "CertificateBindingError",
    "ClientCertificateSource",
    "ErrorResponse",
    "InsufficientScopeError",
    "IssuerTemplate",
    "JwksSigningKeys",
    "MalformedTokenError",
    "OpenIdSigningKeys",
    "ProtectedWebApi",
    "SigningKeys",
    "SigningKeysUnavailableError",
    "TokenAudienceError",
    "TokenHeaderError",
    "TokenIssuerError",
    "TokenLifetimeError",
    "TokenSignatureError",
    "TokenValidationError",
    "TokenValidationOptions",
    "TokenValidator",
    "TokenVersionError",
    "UnknownSigningKeyError",
    "ValidatedToken",
]
