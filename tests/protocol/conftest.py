"""Fixtures for the protocol unit tests: throw-away certificates, built in memory."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from testkit import make_certificate

from identity_web.protocol import BindingCertificate


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def certificate(rsa_key: rsa.RSAPrivateKey) -> BindingCertificate:
    return make_certificate(rsa_key)


@pytest.fixture(scope="session")
def ec_certificate() -> BindingCertificate:
    return make_certificate(ec.generate_private_key(ec.SECP256R1()), "ec-app")
