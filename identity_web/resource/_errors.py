"""Why an incoming token was refused: one class per reason, each with its HTTP answer.

Every message is safe to show and to log: it names what is wrong (the claim, the expected value
when that is configuration) and never contains the token or the client certificate.
"""

from __future__ import annotations

from identity_web._errors import IdentityWebError

INVALID_TOKEN = "invalid_token"  # noqa: S105 - an OAuth error code, not a secret
INSUFFICIENT_SCOPE = "insufficient_scope"
TEMPORARILY_UNAVAILABLE = "temporarily_unavailable"


class TokenValidationError(IdentityWebError):
    """The request's token is refused: HTTP 401 with `error="invalid_token"` (RFC 6750 §3.1).

    `scheme` is the authorization scheme of the challenge (`Bearer` or `mtls_pop`); the
    authenticator sets it from the request and the settings.
    """

    status = 401
    error = INVALID_TOKEN

    def __init__(self, description: str) -> None:
        self.description = description
        self.scheme: str = "Bearer"
        super().__init__(description)


class MalformedTokenError(TokenValidationError):
    """Not a compact JWS with JSON header and payload, too large, or a claim of the wrong type."""


class TokenHeaderError(TokenValidationError):
    """The JOSE header is not acceptable: `alg` none, HMAC or not allowed; `jku`, `x5u`, `crit`."""


class UnknownSigningKeyError(TokenValidationError):
    """No signing key of the authority has the token's `kid`, even after a refresh."""


class SigningKeysUnavailableError(TokenValidationError):
    """The authority's keys could not be fetched and none are cached: HTTP 503, retry later."""

    status = 503
    error = TEMPORARILY_UNAVAILABLE


class TokenSignatureError(TokenValidationError):
    """The signature does not verify with the authority's key."""


class TokenIssuerError(TokenValidationError):
    """`iss` is none of the accepted issuers (or does not match the token's `tid`)."""


class TokenAudienceError(TokenValidationError):
    """`aud` is none of the accepted audiences."""


class TokenLifetimeError(TokenValidationError):
    """The token has expired or is not valid yet (`exp`, `nbf`, with the allowed clock skew)."""


class TokenVersionError(TokenValidationError):
    """`ver` is not 1.0 or 2.0, or does not match the form of `iss`."""


class CertificateBindingError(TokenValidationError):
    """RFC 8705: a bound token without its TLS client certificate, with another certificate or
    under the wrong scheme, or a Bearer token where only bound tokens are accepted."""


class InsufficientScopeError(TokenValidationError):
    """The token is valid but lacks the scope or app role the endpoint requires: HTTP 403."""

    status = 403
    error = INSUFFICIENT_SCOPE


__all__ = [
    "CertificateBindingError",
    "InsufficientScopeError",
    "MalformedTokenError",
    "SigningKeysUnavailableError",
    "TokenAudienceError",
    "TokenHeaderError",
    "TokenIssuerError",
    "TokenLifetimeError",
    "TokenSignatureError",
    "TokenValidationError",
    "TokenVersionError",
    "UnknownSigningKeyError",
]
