"""A small JWS (compact serialization) signer and verifier: RS256 and PS256 only.

The emulator signs its own access tokens with RS256 and verifies client assertions signed with
RS256 (MSAL's `x5t` form) or PS256 (the `x5t#S256` form).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from identity_web.protocol._binding import b64url

SUPPORTED_ALGORITHMS = ("RS256", "PS256")


class JwtError(ValueError):
    """The compact JWS is malformed, uses an unsupported algorithm, or its signature is wrong."""


@dataclass(frozen=True, slots=True)
class DecodedJwt:
    """A parsed, not yet verified, compact JWS."""

    header: Mapping[str, Any]
    claims: Mapping[str, Any]
    signing_input: bytes
    signature: bytes

    @property
    def algorithm(self) -> str:
        return str(self.header.get("alg", ""))

    def verify(self, public_key: object) -> None:
        """Raise `JwtError` unless the signature verifies with `public_key`."""
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise JwtError("only RSA keys are supported")
        try:
            public_key.verify(self.signature, self.signing_input, _padding(self.algorithm), _SHA)
        except InvalidSignature as error:
            raise JwtError("signature does not verify") from error


_SHA = hashes.SHA256()


def _padding(algorithm: str) -> padding.AsymmetricPadding:
    if algorithm == "RS256":
        return padding.PKCS1v15()
    if algorithm == "PS256":
        return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    raise JwtError(f"unsupported alg {algorithm!r}; expected one of {SUPPORTED_ALGORITHMS}")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(header: Mapping[str, Any], claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    """Sign `claims` with `header["alg"]` (RS256 when absent)."""
    full_header = {"alg": "RS256", "typ": "JWT", **header}
    parts = [_b64json(full_header), _b64json(claims)]
    signing_input = ".".join(parts).encode("ascii")
    signature = key.sign(signing_input, _padding(full_header["alg"]), _SHA)
    return ".".join([*parts, b64url(signature)])


def decode(token: str) -> DecodedJwt:
    """Parse a compact JWS without verifying it."""
    pieces = token.split(".")
    if len(pieces) != 3:
        raise JwtError("a compact JWS has three dot-separated parts")
    try:
        header = json.loads(b64url_decode(pieces[0]))
        claims = json.loads(b64url_decode(pieces[1]))
        signature = b64url_decode(pieces[2])
    except (ValueError, UnicodeDecodeError) as error:
        raise JwtError("a part is not base64url JSON") from error
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JwtError("header and payload must be JSON objects")
    signing_input = f"{pieces[0]}.{pieces[1]}".encode("ascii")
    return DecodedJwt(header, claims, signing_input, signature)


def _b64json(value: Mapping[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))
