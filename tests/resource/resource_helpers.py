"""Keys, certificates, settings and tokens for the resource tests (tier 1: no network)."""

from __future__ import annotations

import functools
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding

from identity_web.emulator._pki import CertificateAuthority
from identity_web.protocol import b64url, x5t_s256
from identity_web.resource import JwksSigningKeys, ProtectedWebApi, TokenValidator
from identity_web.settings import IdentityWebSettings, MicrosoftIdentityApplicationOptions

INSTANCE = "https://login.microsoftonline.com/"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "6e74172b-be56-4843-9ff4-e66a39bb12e3"
CALLER = "0a1b2c3d-0000-4000-8000-000000000001"
KID = "signing-key-1"
NOW = 1_800_000_000.0


@functools.cache
def signing_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def other_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
        "e": b64url(numbers.e.to_bytes(3, "big")),
    }


def jwks() -> dict[str, Any]:
    return {"keys": [jwk(signing_key(), KID)]}


def azure_ad(**keys: Any) -> MicrosoftIdentityApplicationOptions:
    section = {"Instance": INSTANCE, "TenantId": TENANT, "ClientId": CLIENT_ID, **keys}
    return IdentityWebSettings.from_mapping({"AzureAd": section}).azure_ad


def validator(**keys: Any) -> TokenValidator:
    return TokenValidator.from_settings(
        azure_ad(**keys), keys=JwksSigningKeys(jwks), clock=lambda: NOW
    )


def protected_api(**keys: Any) -> ProtectedWebApi:
    return ProtectedWebApi(validator(**keys))


def claims(**changes: Any) -> dict[str, Any]:
    """A v2.0 app token for CLIENT_ID from TENANT with the scope Items.Read."""
    base: dict[str, Any] = {
        "aud": CLIENT_ID,
        "iss": f"{INSTANCE}{TENANT}/v2.0",
        "iat": int(NOW) - 60,
        "nbf": int(NOW) - 60,
        "exp": int(NOW) + 3600,
        "azp": CALLER,
        "oid": "11111111-2222-3333-4444-555555555555",
        "tid": TENANT,
        "scp": "Items.Read",
        "ver": "2.0",
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def v1_claims(**changes: Any) -> dict[str, Any]:
    return claims(
        aud=f"api://{CLIENT_ID}",
        iss=f"https://sts.windows.net/{TENANT}/",
        ver="1.0",
        azp=None,
        appid=CALLER,
        **changes,
    )


def mint(
    payload: dict[str, Any],
    *,
    key: rsa.RSAPrivateKey | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    return jwt.encode(
        payload, key or signing_key(), algorithm="RS256", headers={"kid": KID, **(headers or {})}
    )


def certificate(common_name: str = "caller") -> tuple[bytes, str]:
    """A (self-signed) certificate for a client: (DER, x5t#S256)."""
    der = CertificateAuthority.create(common_name).certificate.public_bytes(Encoding.DER)
    return der, x5t_s256(der)
