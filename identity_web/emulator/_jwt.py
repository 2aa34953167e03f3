"""Compact JWS for the emulator, on PyJWT: signing its tokens, reading and verifying assertions.

The emulator signs its own access tokens with RS256 and verifies client assertions signed with
RS256 (MSAL's `x5t` form) or PS256 (the `x5t#S256` form). Access tokens coming back to its
resource API are validated by `identity_web.resource`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

SUPPORTED_ALGORITHMS = ("RS256", "PS256")
#: Read or verify the signature only: claims are the caller's to judge.
_SIGNATURE_ONLY: Any = {
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}

_UNVERIFIED: Any = {"verify_signature": False, **_SIGNATURE_ONLY}


class JwtError(ValueError):
    """The compact JWS is malformed, uses an unsupported algorithm, or its signature is wrong."""


@dataclass(frozen=True, slots=True)
class DecodedJwt:
    """A parsed, not yet verified, compact JWS."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    token: str = field(repr=False)

    @property
    def algorithm(self) -> str:
        return str(self.header.get("alg", ""))

    def verify(self, public_key: object) -> None:
        """Raise `JwtError` unless the signature verifies with `public_key` (an RSA key)."""
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise JwtError("only RSA keys are supported")
        if self.algorithm not in SUPPORTED_ALGORITHMS:
            raise JwtError(
                f"unsupported alg {self.algorithm!r}; expected one of {SUPPORTED_ALGORITHMS}"
            )
        try:
            jwt.decode(self.token, public_key, algorithms=[self.algorithm], options=_SIGNATURE_ONLY)
        except jwt.PyJWTError as error:
            raise JwtError("signature does not verify") from error


def encode(header: Mapping[str, Any], claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    """Sign `claims` with `header["alg"]` (RS256 when absent)."""
    extra = {"typ": "JWT", **header}
    algorithm = str(extra.pop("alg", "RS256"))
    if algorithm not in SUPPORTED_ALGORITHMS:
        raise JwtError(f"unsupported alg {algorithm!r}; expected one of {SUPPORTED_ALGORITHMS}")
    return jwt.encode(dict(claims), key, algorithm=algorithm, headers=extra)


def decode(token: str) -> DecodedJwt:
    """Parse a compact JWS without verifying it."""
    if token.count(".") != 2:
        raise JwtError("a compact JWS has three dot-separated parts")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options=_UNVERIFIED)
    except jwt.PyJWTError as error:
        raise JwtError("a part is not base64url JSON") from error
    return DecodedJwt(header, claims, token)
