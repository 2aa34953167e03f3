"""Fixtures for the protocol unit tests: throw-away certificates, built in memory."""

from __future__ import annotations

import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from identity_web.protocol._binding import BindingCertificate, PrivateKey


def make_certificate(key: PrivateKey, common_name: str = "app") -> BindingCertificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return BindingCertificate.create(certificate, key)


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def certificate(rsa_key: rsa.RSAPrivateKey) -> BindingCertificate:
    return make_certificate(rsa_key)


@pytest.fixture(scope="session")
def ec_certificate() -> BindingCertificate:
    return make_certificate(ec.generate_private_key(ec.SECP256R1()), "ec-app")
