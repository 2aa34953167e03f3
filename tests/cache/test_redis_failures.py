"""Redis down, slow or wrong: bounded time, logged once, never an exception, L1 intact."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import pytest
from cache_helpers import app_key, run_closing, setup_for, ticking, token_entry
from redis_servers import ACL_PASSWORD, RedisServer, TlsFiles, free_port

from identity_web.cache import DistributedTokenCache

COOLDOWN = 2.0  # Health's default: how long Redis is left alone after a failure


def cache_at(url: str, **options: object) -> DistributedTokenCache:
    cache = setup_for(url, **options).cache
    assert isinstance(cache, DistributedTokenCache)
    return cache


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def test_connection_refused_is_a_miss_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    cache = cache_at(f"redis://127.0.0.1:{free_port()}")
    key, entry = app_key(), token_entry()
    with caplog.at_level(logging.WARNING):
        assert timed(lambda: cache.get(key)) < 1.5
        cache.set(key, entry)  # no exception, and L1 keeps the token
        for _ in range(100):
            assert cache.get(key) is entry
        assert run_closing(cache, cache.get_async(app_key("other"))) is None
    logged = warnings(caplog)
    assert len(logged) == 1
    assert "read" in logged[0]
    assert "ConnectionError" in logged[0]


def test_a_hung_server_costs_one_socket_timeout(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    cache = cache_at(redis_server.url)
    cache.set(app_key(), token_entry())
    redis_server.pause()
    try:
        with caplog.at_level(logging.WARNING):
            assert timed(lambda: cache.get(app_key("cold"))) < 2.5  # socket timeout: 1 s
            assert timed(lambda: cache.get(app_key("cold-2"))) < 0.05  # cooling down
            assert cache.get(app_key()) is not None  # L1
        assert any("TimeoutError" in message for message in warnings(caplog))
    finally:
        redis_server.resume()


def test_a_restart_mid_run_then_redis_is_used_again(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    writer, reader = cache_at(redis_server.url), cache_at(redis_server.url)
    writer.set(app_key("before"), token_entry("before"))
    redis_server.kill()
    with caplog.at_level(logging.WARNING):
        writer.set(app_key("during"), token_entry("during"))
        assert writer.get(app_key("during")).access_token == "during"  # type: ignore[union-attr]
        redis_server.start()  # same port, empty (nothing saved)
        time.sleep(COOLDOWN + 0.1)
        writer.set(app_key("after"), token_entry("after"))
        assert reader.get(app_key("after")).access_token == "after"  # type: ignore[union-attr]
    assert reader.get(app_key("before")) is None  # evicted with the restart: a plain miss
    logged = warnings(caplog)
    assert any("failed" in message for message in logged)
    assert any("answers again" in message for message in logged)


def test_evicted_keys_are_misses(redis_server: RedisServer) -> None:
    writer, reader = cache_at(redis_server.url), cache_at(redis_server.url)
    writer.set(app_key(), token_entry())
    redis_server.admin().flushall()
    assert reader.get(app_key()) is None
    assert writer.get(app_key()) is not None  # L1 untouched


def test_a_read_only_replica_refuses_writes_without_an_exception(
    redis_factory: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    primary = redis_factory(extra=("repl-diskless-sync-delay 0",))
    replica = redis_factory(extra=(f"replicaof 127.0.0.1 {primary.port}",))
    cache_at(primary.url).set(app_key("from-primary"), token_entry("from-primary"))
    cache = cache_at(replica.url)
    with caplog.at_level(logging.WARNING):
        cache.set(app_key(), token_entry())
    assert any("ReadOnlyError" in message for message in warnings(caplog))
    assert cache.peek(app_key()) is not None
    deadline = time.monotonic() + 5
    while cache.get(app_key("from-primary")) is None and time.monotonic() < deadline:
        time.sleep(COOLDOWN / 4)  # replication catches up; reads work on a replica
    assert cache.get(app_key("from-primary")) is not None


def test_acl_user_and_password(
    redis_factory: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = redis_factory(acl=True)
    writer, reader = cache_at(server.url), cache_at(server.url)
    writer.set(app_key(), token_entry())
    assert reader.get(app_key()) is not None
    wrong = server.url.replace(ACL_PASSWORD, "wrong-password")
    with caplog.at_level(logging.WARNING):
        assert cache_at(wrong).get(app_key()) is None
    logged = warnings(caplog)
    assert any("AuthenticationError" in message for message in logged)
    assert not any(ACL_PASSWORD in message or "wrong-password" in message for message in logged)


def test_tls_with_acl(
    redis_factory: Callable[..., RedisServer],
    tls_files: TlsFiles,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = redis_factory(acl=True, tls=tls_files)
    assert server.url.startswith("rediss://")
    writer = setup_for(server.url, ca_file=str(tls_files.ca)).cache
    reader = setup_for(server.url, ca_file=str(tls_files.ca)).cache
    writer.set(app_key(), token_entry())
    assert reader.get(app_key()) is not None
    assert run_closing(reader, reader.get_async(app_key("cold"))) is None
    untrusting = setup_for(server.url).cache  # the system store does not know the test CA
    with caplog.at_level(logging.WARNING):
        assert untrusting.get(app_key()) is None
    assert any("certificate verify failed" in message for message in warnings(caplog))


def test_async_reads_of_a_hung_server_never_block_the_event_loop(
    redis_server: RedisServer,
) -> None:
    cache = cache_at(redis_server.url, DisableL1Cache=True)
    redis_server.pause()

    try:
        found, ticks, elapsed = run_closing(cache, ticking(cache.get_async(app_key())))
    finally:
        redis_server.resume()
    assert found is None
    assert 0.8 < elapsed < 2.5  # the 1 s socket timeout, awaited
    assert ticks >= elapsed * 100 * 0.5  # the loop kept running meanwhile
