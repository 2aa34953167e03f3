"""Access-token validation the way a resource does it: JWKS signature, issuer, audience, time.

Used by the resource API and by the token service when one of our own tokens comes back as a
client assertion (federated identity credential).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web.emulator import _jwt


class InvalidTokenError(ValueError):
    """The token fails validation; `reason` is safe to show (it never contains the token)."""

    def __init__(self, reason: str, *, kind: str = "invalid") -> None:
        self.reason = reason
        self.kind = kind  # invalid | signature | issuer | audience | expired | not_yet_valid
        super().__init__(reason)


def _int_from_b64url(value: str) -> int:
    return int.from_bytes(_jwt.b64url_decode(value), "big")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    if jwk.get("kty") != "RSA":
        raise InvalidTokenError("only RSA signing keys are supported")
    numbers = rsa.RSAPublicNumbers(_int_from_b64url(jwk["e"]), _int_from_b64url(jwk["n"]))
    return numbers.public_key()


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
        keys = [k for k in self.jwks().get("keys", []) if k.get("kid") == kid]
        if not keys:
            raise InvalidTokenError(f"no published signing key has kid {kid!r}", kind="signature")
        try:
            decoded.verify(public_key_from_jwk(keys[0]))
        except _jwt.JwtError as error:
            raise InvalidTokenError("the signature does not verify", kind="signature") from error
        return decoded

    def validate(
        self, token: str, *, audiences: Sequence[str], now: float, skew: float = 0
    ) -> Mapping[str, Any]:
        """Signature, `iss`, `aud` (one of `audiences`, case-insensitive), `exp` and `nbf`."""
        claims = self.verify_signature(token).claims
        if claims.get("iss") != self.issuer():
            raise InvalidTokenError(f"unexpected issuer {claims.get('iss')!r}", kind="issuer")
        if not audience_matches(claims.get("aud"), audiences):
            raise InvalidTokenError(
                f"the audience {claims.get('aud')!r} is not accepted", kind="audience"
            )
        check_lifetime(claims, now=now, skew=skew)
        return claims


def audience_matches(audience: object, accepted: Sequence[str]) -> bool:
    wanted = {a.rstrip("/").lower() for a in accepted}
    values = audience if isinstance(audience, list) else [audience]
    return any(isinstance(v, str) and v.rstrip("/").lower() in wanted for v in values)


def check_lifetime(claims: Mapping[str, Any], *, now: float, skew: float) -> None:
    exp = claims.get("exp")
    nbf = claims.get("nbf", claims.get("iat", 0))
    if not isinstance(exp, int | float) or not isinstance(nbf, int | float):
        raise InvalidTokenError("exp and nbf must be numbers")
    if now > exp + skew:
        raise InvalidTokenError("the token has expired", kind="expired")
    if now + skew < nbf:
        raise InvalidTokenError("the token is not valid yet", kind="not_yet_valid")
