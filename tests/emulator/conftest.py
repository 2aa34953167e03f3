"""Fixtures of the emulator tests: the plugin's session emulator, cleaned per test."""

from __future__ import annotations

from collections.abc import Iterator

import emulator_testkit
import pytest

from identity_web.emulator import Emulator


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    """The session emulator (pytest plugin) with empty log, no faults and the real clock."""
    return identity_web_emulator_clean


@pytest.fixture(autouse=True)
def _reap_emulator_processes() -> Iterator[None]:
    """Emulator processes a test started are ended and their pipes closed after it."""
    yield
    emulator_testkit.reap_started()
