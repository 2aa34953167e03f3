"""Fixtures every test folder shares: the session emulator (cleaned per test), its manifest, and
a real transport that trusts it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.transport import HttpTransport


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    return identity_web_emulator_clean


@pytest.fixture
def manifest(emulator: Emulator) -> EmulatorManifest:
    return emulator.manifest


@pytest.fixture
def transport(emulator: Emulator) -> Iterator[HttpTransport]:
    with HttpTransport(ca_bundle=emulator.manifest.ca_bundle) as transport:
        yield transport
