"""The L1 + Redis L2 cache against real redis-server processes."""

from __future__ import annotations

import dataclasses
import json
import logging
import random
import threading
import time

import pytest
from cache_helpers import app_key, certificate, run_closing, setup_for, token_entry
from redis_servers import RedisServer

from identity_web.cache import CacheKey, DistributedTokenCache
from identity_web.protocol import TokenType


def cache_for(server: RedisServer, **section: object) -> DistributedTokenCache:
    cache = setup_for(server.url, **section).cache
    assert isinstance(cache, DistributedTokenCache)
    return cache


def stored_names(server: RedisServer) -> list[bytes]:
    return sorted(server.admin().keys("*"))


def test_an_l2_hit_fills_l1_and_l1_hits_make_no_round_trip(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    writer, reader = cache_for(redis_server), cache_for(redis_server)
    key, entry = app_key(), token_entry()
    writer.set(key, entry)
    assert reader.peek(key) is None
    assert reader.get(key) == entry  # from Redis
    assert reader.peek(key) == entry  # and now in L1
    redis_server.kill()
    started = time.perf_counter()
    for _ in range(1000):
        assert reader.get(key) == entry
        assert reader.peek(key) == entry
    assert time.perf_counter() - started < 0.5
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]  # Redis never asked


def test_ttl_is_the_token_remaining_life(redis_server: RedisServer) -> None:
    cache = cache_for(redis_server)
    cache.set(app_key(), token_entry(life=1234.0))
    (name,) = stored_names(redis_server)
    ttl_ms = redis_server.admin().pttl(name)
    assert 1_232_000 <= ttl_ms <= 1_234_000
    cache.set(app_key("expired"), token_entry(life=-1.0))
    assert len(stored_names(redis_server)) == 1  # an expired token is not written


def test_expired_l2_entries_vanish(redis_server: RedisServer) -> None:
    writer, reader = cache_for(redis_server), cache_for(redis_server)
    writer.set(app_key(), token_entry(life=0.3))
    time.sleep(0.5)
    assert reader.get(app_key()) is None


def test_l1_entry_due_for_refresh_gives_way_to_a_newer_one_in_l2(redis_server: RedisServer) -> None:
    """The stale-L1 trap: another process refreshed; this one must not keep its old token."""
    mine, fleet = cache_for(redis_server), cache_for(redis_server)
    key, now = app_key(), time.time()
    old = dataclasses.replace(token_entry("old", now=now - 3000), refresh_on=now - 1)
    mine.set(key, old)
    assert mine.get(key) == old  # nothing better in L2: the old one is still served
    fleet.set(key, token_entry("new"))
    assert mine.peek(key) == old
    assert mine.get(key).access_token == "new"  # type: ignore[union-attr]
    assert mine.peek(key).access_token == "new"  # type: ignore[union-attr]


def test_encrypted_entries_are_sealed_in_redis(redis_server: RedisServer, aes_key: str) -> None:
    cache = cache_for(redis_server, Encrypt=True, EncryptionKey=aes_key)
    cache.set(app_key(), token_entry("plain-text-token"))
    (name,) = stored_names(redis_server)
    raw = redis_server.admin().get(name)
    assert b"plain-text-token" not in raw
    assert json.loads(raw)["v"] == 1
    assert cache_for(redis_server, Encrypt=True, EncryptionKey=aes_key).get(app_key()) is not None


def test_unencrypted_entries_are_plain_versioned_json(redis_server: RedisServer) -> None:
    cache_for(redis_server).set(app_key(), token_entry("plain-text-token"))
    (name,) = stored_names(redis_server)
    document = json.loads(redis_server.admin().get(name))
    assert document["v"] == 1
    assert document["entry"]["access_token"] == "plain-text-token"


def test_a_wrong_key_is_a_miss_logged_once(
    redis_server: RedisServer, aes_key: str, caplog: pytest.LogCaptureFixture
) -> None:
    cache_for(redis_server, Encrypt=True, EncryptionKey=aes_key).set(app_key(), token_entry())
    other = "QUFB" * 10 + "QUE="  # 32 bytes of "A"
    reader = cache_for(redis_server, Encrypt=True, EncryptionKey=other)
    with caplog.at_level(logging.WARNING, logger="identity_web.cache"):
        assert reader.get(app_key()) is None
        assert reader.get(app_key()) is None
    messages = [r.getMessage() for r in caplog.records if "ignoring" in r.getMessage()]
    assert len(messages) == 1
    assert "key id" in messages[0]
    plain_reader = cache_for(redis_server)
    assert plain_reader.get(app_key()) is None  # sealed entry, Encrypt off: a miss too


def test_async_reads_and_writes_on_several_event_loops(redis_server: RedisServer) -> None:
    cache = cache_for(redis_server, DisableL1Cache=True)

    async def round_trip(token: str) -> str | None:
        await cache.set_async(app_key(), token_entry(token))
        found = await cache.get_async(app_key())
        await cache.remove_async(app_key("other"))
        return None if found is None else found.access_token

    assert run_closing(cache, round_trip("first")) == "first"
    assert run_closing(cache, round_trip("second")) == "second"  # a new loop gets its own client
    assert cache.get(app_key()).access_token == "second"  # type: ignore[union-attr]
    cache.remove(app_key())
    assert cache.get(app_key()) is None


def test_imds_bound_tokens_stay_in_this_process(redis_server: RedisServer) -> None:
    cache = cache_for(redis_server)
    key = app_key(bound=True)  # the flow chose the certificate: IMDS v2 or FIC leg 1
    entry = dataclasses.replace(token_entry(bound=True), binding_certificate=certificate("imds-v2"))
    cache.set(key, entry)
    assert cache.get(key) is entry
    assert stored_names(redis_server) == []


def test_certificate_bound_tokens_are_served_only_to_that_certificate(
    redis_server: RedisServer,
) -> None:
    held, other = certificate("app"), certificate("app")  # renewed: same name, new thumbprint
    writer, reader = cache_for(redis_server), cache_for(redis_server)
    key = app_key(bound=True, binding=held.x5t_s256)
    writer.set(key, dataclasses.replace(token_entry(bound=True), binding_certificate=held))
    assert len(stored_names(redis_server)) == 1
    assert reader.get(app_key(bound=True, binding=other.x5t_s256)) is None
    found = reader.get(key)
    assert found is not None
    assert found.binding_certificate is None  # the reader presents its own certificate


def test_partitions_never_cross_under_concurrency(redis_server: RedisServer) -> None:
    """2 tenants x 2 certificates x Bearer/bound, 8 threads, each with its own cache."""
    thumbprints = [certificate("app").x5t_s256, certificate("app").x5t_s256]
    keys: dict[CacheKey, str] = {}
    for tenant in ("tenant-a", "tenant-b"):
        for index, thumbprint in enumerate(thumbprints):
            keys[app_key(tenant, bound=True, binding=thumbprint)] = f"{tenant}-cert{index}-pop"
            credential = dataclasses.replace(
                app_key(tenant), binding=thumbprint, credential_bound=True
            )
            keys[credential] = f"{tenant}-cert{index}-bearer-bound-credential"
        keys[app_key(tenant)] = f"{tenant}-bearer"
    assert len({key.as_string() for key in keys}) == len(keys) == 10
    wrong: list[str] = []
    served = [0]

    def worker(seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
        cache = cache_for(redis_server, DisableL1Cache=seed % 2 == 0)
        for _ in range(300):
            key = rng.choice(list(keys))
            bound = key.token_type is TokenType.MTLS_POP
            if rng.random() < 0.3:
                cache.set(key, token_entry(keys[key], bound=bound))
            found = cache.get(key)
            if found is not None:
                served[0] += 1
                if found.access_token != keys[key]:
                    wrong.append(f"{keys[key]} got {found.access_token}")

    threads = [threading.Thread(target=worker, args=(seed,)) for seed in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []
    assert served[0] > 1000
    assert len(stored_names(redis_server)) == len(keys)


def test_key_prefix_separates_applications(redis_server: RedisServer) -> None:
    cache_for(redis_server, KeyPrefix="app-one").set(app_key(), token_entry("one"))
    assert cache_for(redis_server, KeyPrefix="app-two").get(app_key()) is None
    assert stored_names(redis_server)[0].startswith(b"app-one:v1:{")
