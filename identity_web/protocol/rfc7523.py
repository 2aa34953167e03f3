"""JWT client assertions (RFC 7523 §2.2, "private_key_jwt"), signed PS256 with `cryptography`.

The header carries `x5t#S256` (and `x5c` when `SendX5C` is on) so Entra ID can find the
certificate; the claims are those Entra ID expects of a certificate credential.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from identity_web._errors import CredentialError
from identity_web.protocol._binding import BindingCertificate, b64url

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_POP = "urn:ietf:params:oauth:client-assertion-type:jwt-pop"

#: Lifetime of a client assertion, seconds (MSAL uses 10 minutes).
ASSERTION_LIFETIME = 600

PS256_PADDING = padding.PSS(
    mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.DIGEST_LENGTH
)


def b64url_json(value: Mapping[str, Any]) -> str:
    """Compact JSON, UTF-8, base64url without padding (a JWS header or payload segment)."""
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def b64url_decode(segment: str) -> bytes:
    """Inverse of `b64url` (accepts missing padding)."""
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not a base64url segment") from exc


def decode_segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a compact JWS, **without** verifying anything.

    Raises `ValueError` (with a message fit for users) when `token` is not a compact JWT.
    """
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWT (three dot-separated parts)")
    try:
        header = json.loads(b64url_decode(parts[0]))
        payload = json.loads(b64url_decode(parts[1]))
    except ValueError as exc:  # bad base64url, bad UTF-8 or bad JSON
        raise ValueError("a JWT segment is not base64url JSON") from exc
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise ValueError("JWS header and payload must be JSON objects")
    return header, payload


def unverified_claims(token: str) -> dict[str, Any]:
    """The payload of a compact JWT, NOT verified (for messages and summaries only); {} when
    `token` is not a readable JWT."""
    try:
        return decode_segments(token)[1]
    except ValueError:
        return {}


def sign_ps256(header: Mapping[str, Any], claims: Mapping[str, Any], key: rsa.RSAPrivateKey) -> str:
    """A compact JWS over `claims`, signed RSASSA-PSS with SHA-256 (RFC 7518 §3.5)."""
    signing_input = f"{b64url_json(header)}.{b64url_json(claims)}"
    signature = key.sign(signing_input.encode("ascii"), PS256_PADDING, hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def assertion_header(certificate: BindingCertificate, *, send_x5c: bool) -> dict[str, Any]:
    header: dict[str, Any] = {"alg": "PS256", "typ": "JWT", "x5t#S256": certificate.x5t_s256}
    if send_x5c:
        header["x5c"] = certificate.x5c
    return header


def assertion_claims(
    *, client_id: str, audience: str, now: float, jti: str | None = None
) -> dict[str, Any]:
    issued = int(now)
    return {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "jti": jti or str(uuid.uuid4()),
        "nbf": issued,
        "iat": issued,
        "exp": issued + ASSERTION_LIFETIME,
    }


def client_assertion(
    certificate: BindingCertificate,
    *,
    client_id: str,
    audience: str,
    now: float,
    send_x5c: bool = False,
    jti: str | None = None,
) -> str:
    """A signed private_key_jwt for `client_id`, audience = the token endpoint it is sent to."""
    key = certificate.private_key
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CredentialError(
            f"The certificate {certificate.x5t_s256} has a {type(key).__name__}; Entra ID "
            "client assertions are signed with RSA (PS256). Use an RSA certificate."
        )
    header = assertion_header(certificate, send_x5c=send_x5c)
    claims = assertion_claims(client_id=client_id, audience=audience, now=now, jti=jti)
    return sign_ps256(header, claims, key)
