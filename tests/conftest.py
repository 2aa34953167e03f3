"""Fixtures every test folder shares: the session emulator (cleaned per test), its manifest, and
a real transport that trusts it; and the Hypothesis profiles for the whole suite.

`default`: small and derandomized, so `./run test` is quick and repeatable. `fuzz` (selected by
`HYPOTHESIS_PROFILE=fuzz`, which `./run fuzz` sets): 10,000 examples per test, random seeds, a
5 s deadline per example so a parser that hangs fails instead of stalling the run.

A `ResourceWarning` (an unclosed socket, file or event loop) fails the test that caused it and,
when only the final garbage collection finds it, the run (`tests/leak_check.py`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, settings
from leak_check import (
    fail_on_resource_warning,
    fail_on_resource_warning_in_module,
    pytest_configure,
    pytest_sessionfinish,
)

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

# The leak check (tests/leak_check.py), for pytest to find here.
__all__ = [
    "fail_on_resource_warning",
    "fail_on_resource_warning_in_module",
    "pytest_configure",
    "pytest_sessionfinish",
]


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    return identity_web_emulator_clean


@pytest.fixture
def manifest(emulator: Emulator) -> EmulatorManifest:
    return emulator.manifest


@pytest.fixture
async def transport(emulator: Emulator) -> AsyncIterator[HttpTransport]:
    """A transport trusting the emulator. Async so that it is closed on the event loop of an
    async test, before the loop closes: its async clients' connections are closed, not left to
    the garbage collector (a sync test gets a loop of its own for set-up and tear-down)."""
    async with HttpTransport(ca_bundle=emulator.manifest.ca_bundle) as transport:
        yield transport
