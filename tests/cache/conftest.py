"""Fixtures: real redis-server instances on free loopback ports, killed after each test."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from redis_servers import RedisServer, TlsFiles, make_tls_files

ServerFactory = Callable[..., RedisServer]


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Starts servers on demand (`redis_factory(acl=True)`); every one is killed at the end."""
    servers: list[RedisServer] = []

    def start(**options: object) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", **options)  # type: ignore[arg-type]
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.kill()


@pytest.fixture
def redis_server(redis_factory: ServerFactory) -> RedisServer:
    return redis_factory()


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    return make_tls_files(tmp_path_factory.mktemp("redis-tls"))


@pytest.fixture
def aes_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()
