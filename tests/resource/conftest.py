"""Fixtures of the resource tests: the session emulator, cleaned for each test."""

from __future__ import annotations

import pytest

from identity_web import TokenAcquirerFactory
from identity_web.emulator import Emulator


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    return identity_web_emulator_clean


@pytest.fixture(autouse=True)
def _fresh_default_factory() -> None:
    TokenAcquirerFactory.reset_default_instance()
