"""The emulator's attestation authority: the `attestationEndpoint` of `getplatformmetadata`.

Real IMDS v2 hosts point at Microsoft Azure Attestation, whose KeyGuard protocol is opaque to
the SDKs (a native library speaks it; wire-protocol.md §5.5). The emulator's authority stands in
for it with a protocol of its own, small enough for a software attestation provider:

- `POST {attestationEndpoint}/attest/software` with `{"csr": "<base64 DER PKCS#10>"}`. The CSR
  proves possession of the key (its RSASSA-PSS SHA-256 signature must verify; the IMDS v2 CSR
  itself will do). Answer: `{"token": "<JWT>"}`, an RS256 JWT signed by the authority's key,
  with `iss` = the endpoint, `iat`/`nbf`/`exp` (8 hours), `x-ms-attestation-type: "software"`
  and `x-ms-runtime.keys[0]`: the attested public key as an RSA JWK. A bad body is a 400
  `{"error": {"code": "InvalidParameter", "message": "…"}}` (Azure Attestation's error shape).
- `GET {attestationEndpoint}/certs`: the authority's JWKS.

`issuecredential` then checks, by `AttestationMode`: `off` ignores `attestation_token`;
`optional` accepts none (absent or empty) but checks one that is sent; `required` refuses a
request without a valid token (signed by this authority, unexpired, for the CSR's key), in
IMDS's error shape (§5.6).
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web.emulator import _jwt
from identity_web.emulator._csr import CsrRejectedError, check_signature, decode
from identity_web.emulator._pki import new_rsa_key
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse
from identity_web.protocol import b64url

if TYPE_CHECKING:
    from identity_web.emulator._state import EmulatorState

ATTEST_PATH = "/attest/software"
CERTS_PATH = "/certs"
ATTESTATION_TYPE = "software"
TOKEN_LIFETIME = 8 * 3600
#: `attestationEndpoint` before the authority's listener is bound (a state without listeners).
UNBOUND_ENDPOINT = "https://attestation.emulator.invalid"


class AttestationMode(enum.StrEnum):
    """What `issuecredential` demands of `attestation_token`."""

    REQUIRED = "required"
    OPTIONAL = "optional"
    OFF = "off"


class AttestationRejectedError(ValueError):
    """An attestation token or request the authority does not accept; the message says why."""


def _int_bytes(value: int) -> bytes:
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def rsa_jwk(key: rsa.RSAPublicKey) -> dict[str, str]:
    """The public JWK members of an RSA key (`kty`, `n`, `e`)."""
    numbers = key.public_numbers()
    return {"kty": "RSA", "n": b64url(_int_bytes(numbers.n)), "e": b64url(_int_bytes(numbers.e))}


class AttestationAuthority:
    """Signs attestation tokens for public keys and checks them; `endpoint` is its base URL."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._key = new_rsa_key()
        self.kid = b64url(uuid.uuid4().bytes)
        self.endpoint = UNBOUND_ENDPOINT

    def jwks(self) -> dict[str, Any]:
        jwk = {**rsa_jwk(self._key.public_key()), "use": "sig", "alg": "RS256", "kid": self.kid}
        return {"keys": [jwk]}

    def issue(self, key: rsa.RSAPublicKey) -> str:
        """An attestation token for `key` (the authority has checked possession)."""
        now = int(self._now())
        claims = {
            "iss": self.endpoint,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "jti": str(uuid.uuid4()),
            "x-ms-ver": "1.0",
            "x-ms-attestation-type": ATTESTATION_TYPE,
            "x-ms-runtime": {"keys": [rsa_jwk(key)]},
        }
        header = {"kid": self.kid, "jku": f"{self.endpoint}{CERTS_PATH}", "typ": "JWT"}
        return _jwt.encode(header, claims, self._key)

    def verify(self, token: str, key: rsa.RSAPublicKey) -> None:
        """Raise `AttestationRejectedError` unless `token` is ours, current and attests `key`."""
        try:
            decoded = _jwt.decode(token)
        except _jwt.JwtError as error:
            raise AttestationRejectedError("not a JWT") from error
        if decoded.header.get("kid") != self.kid or decoded.algorithm != "RS256":
            raise AttestationRejectedError("not signed by this VM's attestation authority")
        try:
            decoded.verify(self._key.public_key())
        except _jwt.JwtError as error:
            raise AttestationRejectedError("signature does not verify") from error
        claims = decoded.claims
        if claims.get("iss") != self.endpoint:
            raise AttestationRejectedError(f"issuer {claims.get('iss')!r} is not {self.endpoint}")
        now = self._now()
        if not (_number(claims, "nbf") <= now < _number(claims, "exp")):
            raise AttestationRejectedError("outside its validity period")
        runtime = claims.get("x-ms-runtime")
        keys = runtime.get("keys") if isinstance(runtime, dict) else None
        if not isinstance(keys, list) or rsa_jwk(key) not in [_public_part(k) for k in keys]:
            raise AttestationRejectedError("it attests another key than the CSR's")


def _number(claims: Mapping[str, Any], name: str) -> float:
    value = claims.get(name)
    if not isinstance(value, int | float):
        raise AttestationRejectedError(f"no numeric '{name}' claim")
    return float(value)


def _public_part(jwk: object) -> dict[str, object]:
    if not isinstance(jwk, dict):
        return {}
    return {name: jwk.get(name) for name in ("kty", "n", "e")}


def csr_key(encoded: object) -> rsa.RSAPublicKey:
    """The RSA key of a base64 DER CSR whose RSASSA-PSS self-signature verifies."""
    if not isinstance(encoded, str) or not encoded:
        raise AttestationRejectedError('the body must be {"csr": "<base64 DER PKCS#10>"}')
    try:
        return check_signature(decode(encoded))
    except CsrRejectedError as error:
        raise AttestationRejectedError(f"csr rejected: {error}") from error


class AttestationService:
    """The authority's TLS host: `POST /attest/software`, `GET /certs`."""

    endpoint_name = "attestation.attest"

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        route = (request.method.upper(), request.path.rstrip("/"))
        if route == ("POST", ATTEST_PATH):
            return self._state.serve(self.endpoint_name, request, self._attest)
        if route == ("GET", CERTS_PATH):
            jwks = self._state.attestation.jwks()
            return self._state.serve(
                "attestation.certs", request, lambda r: EmulatorResponse.json(200, jwks)
            )
        return _error(404, "NotFound", f"No route for {request.method} {request.path}")

    def _attest(self, request: EmulatorRequest) -> EmulatorResponse:
        try:
            body = request.json()
            key = csr_key(body.get("csr") if isinstance(body, dict) else None)
        except (ValueError, UnicodeDecodeError) as error:
            return _error(400, "InvalidParameter", str(error))
        return EmulatorResponse.json(200, {"token": self._state.attestation.issue(key)})


def _error(status: int, code: str, message: str) -> EmulatorResponse:
    return EmulatorResponse.json(status, {"error": {"code": code, "message": message}})
