"""Fixtures of the fault matrix: the session emulator (cleaned per test) and real Redis."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "cache"))  # redis_servers: real redis-server

from redis_servers import RedisServer

from identity_web import TokenAcquirerFactory
from identity_web.emulator import Emulator


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    return identity_web_emulator_clean


@pytest.fixture(autouse=True)
def _fresh_default_factory() -> None:
    TokenAcquirerFactory.reset_default_instance()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()
