"""One RSA key and one self-signed certificate (and its PFX and PEM) for the fuzz tests."""

from __future__ import annotations

import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PASSWORD = "fuzz-password"


@functools.cache
def certificate() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(KEY.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(KEY, hashes.SHA256())
    )


def certificate_der() -> bytes:
    return certificate().public_bytes(serialization.Encoding.DER)


def _encryption(password: str | None) -> serialization.KeySerializationEncryption:
    if password:
        return serialization.BestAvailableEncryption(password.encode())
    return serialization.NoEncryption()


@functools.cache
def pfx(password: str | None = PASSWORD) -> bytes:
    encryption = _encryption(password)
    return pkcs12.serialize_key_and_certificates(b"fuzz", KEY, certificate(), None, encryption)


@functools.cache
def pem(password: str | None = None) -> bytes:
    encryption = _encryption(password)
    key = KEY.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    return certificate().public_bytes(serialization.Encoding.PEM) + key
