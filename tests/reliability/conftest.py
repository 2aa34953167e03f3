"""Fixtures of the fault matrix: the session emulator (cleaned per test) and real Redis."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# redis_servers: real redis-server processes; e2e_helpers: settings the way users write them.
sys.path[:0] = [str(Path(__file__).parents[1] / "cache"), str(Path(__file__).parents[1] / "e2e")]

from redis_servers import RedisServer  # noqa: E402

from identity_web.emulator import Emulator  # noqa: E402


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    return identity_web_emulator_clean


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.kill()
