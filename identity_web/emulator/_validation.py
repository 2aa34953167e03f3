"""Access-token checks for the emulator, on `identity_web.resource`.

The resource API validates with `identity_web.resource.TokenValidator` (see `resource_validator`);
the token service, when one of our own tokens comes back as a client assertion (federated
identity credential), checks its signature here and its lifetime with `check_lifetime`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from identity_web.emulator import _jwt
from identity_web.resource import (
    IssuerTemplate,
    JwksSigningKeys,
    TokenValidationError,
    TokenValidationOptions,
    TokenValidator,
)


class InvalidTokenError(ValueError):
    """The token fails validation; `reason` is safe to show (it never contains the token)."""

    def __init__(self, reason: str, *, kind: str = "invalid") -> None:
        self.reason = reason
        self.kind = kind  # invalid | signature | issuer | audience | expired | not_yet_valid
        super().__init__(reason)


def resource_validator(
    keys: JwksSigningKeys,
    issuer: str,
    audiences: Sequence[str],
    clock: Callable[[], float],
    *,
    skew: float = 0,
) -> TokenValidator:
    """What the emulated resource accepts: our issuer, `audiences`, no clock skew, bound and
    Bearer tokens alike, app tokens without roles (authorized by access list)."""
    options = TokenValidationOptions(
        audiences=tuple(audiences),
        issuers=(IssuerTemplate(issuer),),
        allow_acl_authorization=True,
        clock_skew=skew,
    )
    return TokenValidator(options, keys, clock=clock)


@dataclass(frozen=True, slots=True)
class JwksValidator:
    """Validates RS256 JWTs against a JWKS fetched through `jwks()` (the published key set)."""

    jwks: Callable[[], Mapping[str, Any]]
    issuer: Callable[[], str]

    def verify_signature(self, token: str) -> _jwt.DecodedJwt:
        try:
            decoded = _jwt.decode(token)
        except _jwt.JwtError as error:
            raise InvalidTokenError(f"the token is malformed: {error}") from error
        if decoded.algorithm != "RS256":
            raise InvalidTokenError(f"unexpected alg {decoded.algorithm!r}", kind="signature")
        kid = decoded.header.get("kid")
        try:
            key = JwksSigningKeys(self.jwks).key(str(kid))
        except TokenValidationError as error:
            raise InvalidTokenError(error.description, kind="signature") from error
        try:
            decoded.verify(key)
        except _jwt.JwtError as error:
            raise InvalidTokenError("the signature does not verify", kind="signature") from error
        return decoded

    def validate(
        self, token: str, *, audiences: Sequence[str], now: float, skew: float = 0
    ) -> Mapping[str, Any]:
        """Signature, `iss`, `aud` (one of `audiences`, case-insensitive), `exp` and `nbf`."""
        keys = JwksSigningKeys(self.jwks)
        validator = resource_validator(keys, self.issuer(), audiences, lambda: now, skew=skew)
        try:
            return validator.validate(token).claims
        except TokenValidationError as error:
            raise InvalidTokenError(error.description) from error


def check_lifetime(claims: Mapping[str, Any], *, now: float, skew: float) -> None:
    exp = claims.get("exp")
    nbf = claims.get("nbf", claims.get("iat", 0))
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
        raise InvalidTokenError("exp and nbf must be numbers")
    if now > exp + skew:
        raise InvalidTokenError("the token has expired", kind="expired")
    if now + skew < nbf:
        raise InvalidTokenError("the token is not valid yet", kind="not_yet_valid")


__all__ = ["InvalidTokenError", "JwksValidator", "check_lifetime", "resource_validator"]
