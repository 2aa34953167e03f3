"""Fixtures of the FIC tests: the session emulator, cleaned for each test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from identity_web import TokenAcquirerFactory
from identity_web.emulator import Emulator
from identity_web.emulator._directory import AppRegistration


@pytest.fixture
def untrusting_app(emulator: Emulator) -> Iterator[AppRegistration]:
    """An app registration with no federated identity credential at all."""
    app = emulator.state.register_app(
        AppRegistration(client_id="7a1e5b0c-0000-4000-8000-00000000f1c0", display_name="no FIC")
    )
    try:
        yield app
    finally:
        emulator.state.apps.remove(app)


@pytest.fixture(autouse=True)
def _fresh_default_factory() -> None:
    TokenAcquirerFactory.reset_default_instance()
