"""Fixtures for acquisition tests (helpers live in acquisition_helpers.py)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from testkit import make_certificate

from identity_web.protocol import BindingCertificate


@pytest.fixture(scope="session")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def app_certificate(app_key: rsa.RSAPrivateKey) -> BindingCertificate:
    return make_certificate(app_key, "app")


@pytest.fixture(scope="session")
def renewed_certificate(app_key: rsa.RSAPrivateKey) -> BindingCertificate:
    """Same key pair, new certificate: a different x5t#S256."""
    return make_certificate(app_key, "app")


# -- tier 2: the session emulator over real TLS ------------------------------------------------
