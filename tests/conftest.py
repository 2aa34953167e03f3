"""Fixtures every test folder shares: the session emulator (cleaned per test), its manifest, and
a real transport that trusts it; and the Hypothesis profiles for the whole suite.

`default`: small and derandomized, so `./run test` is quick and repeatable. `fuzz` (selected by
`HYPOTHESIS_PROFILE=fuzz`, which `./run fuzz` sets): 10,000 examples per test, random seeds, a
5 s deadline per example so a parser that hangs fails instead of stalling the run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings

from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.transport import HttpTransport

_SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]

settings.register_profile(
    "default", max_examples=100, derandomize=True, deadline=None, suppress_health_check=_SLOW_OK
)
settings.register_profile(
    "fuzz",
    max_examples=10_000,
    deadline=timedelta(seconds=5),
    suppress_health_check=_SLOW_OK,
    print_blob=True,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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
