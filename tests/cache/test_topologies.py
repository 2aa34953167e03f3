"""Redis Cluster (three nodes; a dead node is a miss) and Sentinel (the primary it names)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from cache_helpers import app_key, run_closing, setup_for, token_entry
from redis_servers import SENTINEL_SERVICE, RedisServer, form_cluster

from identity_web.cache import RedisCoordinator


@pytest.fixture
def cluster(redis_factory: Callable[..., RedisServer]) -> list[RedisServer]:
    nodes = [redis_factory(cluster=True) for _ in range(3)]
    form_cluster(nodes)
    return nodes


def cluster_url(nodes: list[RedisServer]) -> str:
    return "redis+cluster://" + ",".join(f"127.0.0.1:{node.port}" for node in nodes)


def test_entries_and_locks_across_the_cluster(
    cluster: list[RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    writer = setup_for(cluster_url(cluster)).cache
    reader = setup_for(cluster_url(cluster[1:]), DisableL1Cache=True)  # any node finds the rest
    tenants = [f"tenant-{index}" for index in range(30)]
    for tenant in tenants:
        writer.set(app_key(tenant), token_entry(f"token-{tenant}"))
    for tenant in tenants:
        assert reader.cache.get(app_key(tenant)).access_token == f"token-{tenant}"  # type: ignore[union-attr]
    assert all(node.admin().dbsize() > 0 for node in cluster)  # spread over the three nodes
    coordinator = reader.coordinator
    assert isinstance(coordinator, RedisCoordinator)
    with coordinator.hold(app_key("cold")) as turn:
        assert turn.leader
    with coordinator.hold(app_key(tenants[0])) as turn:
        assert turn.entry is not None

    async def read_async() -> str | None:
        found = await reader.cache.get_async(app_key(tenants[1]))
        return None if found is None else found.access_token

    assert run_closing(reader.cache, read_async()) == f"token-{tenants[1]}"
    cluster[2].kill()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        results = [reader.cache.get(app_key(tenant)) for tenant in tenants]
    assert time.monotonic() - started < 15
    assert None in results  # the dead node's slots are misses, nothing raised
    assert any("failed" in r.getMessage() for r in caplog.records)


def test_a_sentinel_url_finds_the_primary(redis_factory: Callable[..., RedisServer]) -> None:
    primary = redis_factory()
    sentinel = redis_factory(sentinel_for=primary)
    url = f"redis+sentinel://127.0.0.1:{sentinel.port}/{SENTINEL_SERVICE}/0"
    writer, reader = setup_for(url).cache, setup_for(url, DisableL1Cache=True).cache
    writer.set(app_key(), token_entry("through-sentinel"))
    assert reader.get(app_key()).access_token == "through-sentinel"  # type: ignore[union-attr]
    assert primary.admin().dbsize() == 1  # written on the primary the sentinel named

    async def read_async() -> str | None:
        found = await reader.get_async(app_key())
        return None if found is None else found.access_token

    assert run_closing(reader, read_async()) == "through-sentinel"
