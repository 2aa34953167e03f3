"""Fixtures of the end-to-end tests: the session emulator, cleaned for each test."""

from __future__ import annotations

import pytest

from identity_web import TokenAcquirerFactory


@pytest.fixture(autouse=True)
def _fresh_default_factory() -> None:
    TokenAcquirerFactory.reset_default_instance()
