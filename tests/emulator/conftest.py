"""Fixtures of the emulator tests: the plugin's session emulator, cleaned per test."""

from __future__ import annotations

import pytest

from identity_web.emulator import Emulator


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    """The session emulator (pytest plugin) with empty log, no faults and the real clock."""
    return identity_web_emulator_clean
