"""Protect a web API with Entra ID access tokens, certificate-bound ones (RFC 8705) included.

`ProtectedWebApi.from_settings()` reads the `AzureAd` section (Identity.Web's web API keys plus
`RequireBoundTokens` and `ClientCertificateHeader`); `TokenValidator` does the checks; the
adapters plug it into frameworks: `identity_web.resource.asgi.WebApiMiddleware`,
`identity_web.resource.fastapi.WebApiAuth`, `identity_web.resource.flask.FlaskWebApi`.
See docs/web-api.md.

The errors are imported eagerly (they are what `identity_web`'s root re-exports, and need only
the standard library); every other name on first use, since it brings PyJWT and httpx.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from identity_web._lazy import lazy_attributes as _lazy_attributes
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

if TYPE_CHECKING:
    from identity_web.resource._api import ErrorResponse, ProtectedWebApi
    from identity_web.resource._certificates import ClientCertificateSource
    from identity_web.resource._keys import JwksSigningKeys, OpenIdSigningKeys, SigningKeys
    from identity_web.resource._options import IssuerTemplate, TokenValidationOptions
    from identity_web.resource._token import AuthorizationScheme, ValidatedToken
    from identity_web.resource._validator import TokenValidator

_LAZY: dict[str, str] = {
    "AuthorizationScheme": "identity_web.resource._token",
    "ClientCertificateSource": "identity_web.resource._certificates",
    "ErrorResponse": "identity_web.resource._api",
    "IssuerTemplate": "identity_web.resource._options",
    "JwksSigningKeys": "identity_web.resource._keys",
    "OpenIdSigningKeys": "identity_web.resource._keys",
    "ProtectedWebApi": "identity_web.resource._api",
    "SigningKeys": "identity_web.resource._keys",
    "TokenValidationOptions": "identity_web.resource._options",
    "TokenValidator": "identity_web.resource._validator",
    "ValidatedToken": "identity_web.resource._token",
}

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


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())
