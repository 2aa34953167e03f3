"""private_key_jwt client assertions: PS256 signature, header and claims."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from identity_web import CredentialError
from identity_web.protocol import BindingCertificate
from identity_web.protocol.rfc7523 import (
    JWT_BEARER,
    JWT_POP,
    b64url_decode,
    client_assertion,
    decode_segments,
)

AUDIENCE = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
NOW = 1_700_000_000.0


def _verify_ps256(token: str, certificate: BindingCertificate) -> None:
    signing_input, _, signature = token.rpartition(".")
    public_key = certificate.certificate.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey)
    public_key.verify(
        b64url_decode(signature),
        signing_input.encode("ascii"),
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def test_assertion_type_constants() -> None:
    assert JWT_BEARER == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert JWT_POP == "urn:ietf:params:oauth:client-assertion-type:jwt-pop"


def test_assertion_is_signed_ps256_by_the_certificate_key(certificate: BindingCertificate) -> None:
    token = client_assertion(certificate, client_id="app", audience=AUDIENCE, now=NOW)
    _verify_ps256(token, certificate)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(InvalidSignature):
        _verify_ps256(tampered, certificate)


def test_assertion_header_and_claims(certificate: BindingCertificate) -> None:
    token = client_assertion(certificate, client_id="app", audience=AUDIENCE, now=NOW + 0.7)
    header, claims = decode_segments(token)
    assert header == {"alg": "PS256", "typ": "JWT", "x5t#S256": certificate.x5t_s256}
    assert claims["aud"] == AUDIENCE
    assert claims["iss"] == claims["sub"] == "app"
    assert claims["nbf"] == claims["iat"] == int(NOW)
    assert claims["exp"] == int(NOW) + 600
    assert len(claims["jti"]) >= 32
    other = decode_segments(
        client_assertion(certificate, client_id="app", audience=AUDIENCE, now=NOW)
    )
    assert other[1]["jti"] != claims["jti"]


def test_send_x5c_adds_the_certificate_chain(certificate: BindingCertificate) -> None:
    token = client_assertion(
        certificate, client_id="app", audience=AUDIENCE, now=NOW, send_x5c=True
    )
    header, _ = decode_segments(token)
    assert header["x5c"] == certificate.x5c
    assert base64.b64decode(header["x5c"][0]) == certificate.der


def test_non_rsa_certificate_is_refused_with_a_clear_message(
    ec_certificate: BindingCertificate,
) -> None:
    with pytest.raises(CredentialError, match="RSA"):
        client_assertion(ec_certificate, client_id="app", audience=AUDIENCE, now=NOW)
