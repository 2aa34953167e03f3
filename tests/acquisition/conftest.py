"""Fixtures for acquisition tests (helpers live in acquisition_helpers.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from acquisition_helpers import make_certificate
from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web.emulator import Emulator
from identity_web.protocol._binding import BindingCertificate
from identity_web.transport import HttpTransport


@pytest.fixture(scope="session")
def app_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def app_certificate(app_key: rsa.RSAPrivateKey) -> BindingCertificate:
    return make_certificate("app", app_key)


@pytest.fixture(scope="session")
def renewed_certificate(app_key: rsa.RSAPrivateKey) -> BindingCertificate:
    """Same key pair, new certificate: a different x5t#S256."""
    return make_certificate("app", app_key)


# -- tier 2: the session emulator over real TLS ------------------------------------------------


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    return identity_web_emulator_clean


@pytest.fixture
def transport(identity_web_emulator: Emulator) -> Iterator[HttpTransport]:
    with HttpTransport(ca_bundle=identity_web_emulator.manifest.ca_bundle) as transport:
        yield transport
