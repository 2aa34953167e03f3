"""One acquisition per key across OS processes, through a real redis-server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from cache_helpers import app_key, setup_for, token_entry
from redis_servers import RedisServer, free_port

from identity_web.cache import (
    ON_YOUR_OWN,
    DistributedTokenCache,
    LocalCoordinator,
    LockPolicy,
    RedisCoordinator,
)

WORKER = Path(__file__).with_name("coordinator_worker.py")
TENANTS = ["tenant-a", "tenant-b", "tenant-c"]


def launch(
    server: RedisServer, mode: str, *, start: float, **overrides: Any
) -> subprocess.Popen[str]:
    args = {
        "url": server.url,
        "keys": TENANTS,
        "workers": 16,
        "mode": mode,
        "start": start,
        "lock_ttl": 5.0,
        "max_wait": 6.0,
        "hold_for": 0.3,
        **overrides,
    }
    command = [sys.executable, str(WORKER), json.dumps(args)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)  # noqa: S603 - our worker


def outcomes(processes: list[subprocess.Popen[str]]) -> dict[str, int]:
    total = {"shared": 0, "leader": 0, "own": 0}
    for process in processes:
        out, _ = process.communicate(timeout=60)
        assert process.returncode == 0
        for how, count in json.loads(out).items():
            total[how] += count
    return total


def acquisitions(server: RedisServer) -> dict[str, int]:
    admin = server.admin()
    return {tenant: int(admin.get(f"acquisitions:{tenant}") or 0) for tenant in TENANTS}


def test_eight_processes_make_one_acquisition_per_key(redis_server: RedisServer) -> None:
    """4 processes x 16 threads and 4 processes x 16 asyncio tasks contend for 3 cold keys."""
    start = time.time() + 1.5  # every process has imported and connected by then
    modes = ["threads", "asyncio"] * 4
    total = outcomes([launch(redis_server, mode, start=start) for mode in modes])
    assert acquisitions(redis_server) == dict.fromkeys(TENANTS, 1)
    assert total == {"shared": 8 * 16 * 3 - 3, "leader": 3, "own": 0}


def test_a_dead_holder_is_replaced_after_its_lock_expires(redis_server: RedisServer) -> None:
    start = time.time() + 1.0
    holder = launch(redis_server, "die", start=start, keys=TENANTS[:1], workers=1, lock_ttl=1.0)
    holder.communicate(timeout=30)  # waits, and closes its stdout
    assert acquisitions(redis_server)[TENANTS[0]] == 1  # it got as far as the token request
    started = time.monotonic()
    waiters = [
        launch(redis_server, mode, start=0.0, keys=TENANTS[:1], lock_ttl=1.0, max_wait=5.0)
        for mode in ("threads", "asyncio", "threads")
    ]
    total = outcomes(waiters)
    assert acquisitions(redis_server)[TENANTS[0]] == 2  # exactly one successor
    assert total == {"shared": 3 * 16 - 1, "leader": 1, "own": 0}
    assert time.monotonic() - started < 10


def test_waiters_give_up_after_max_wait_and_acquire_on_their_own(redis_server: RedisServer) -> None:
    start = time.time() + 1.0
    slow = launch(redis_server, "threads", start=start, keys=TENANTS[:1], workers=1, hold_for=3.0)
    time.sleep(1.3)
    impatient = launch(
        redis_server, "threads", start=0.0, keys=TENANTS[:1], workers=2, max_wait=0.3
    )
    total = outcomes([impatient])
    assert total == {"shared": 0, "leader": 0, "own": 2}
    assert outcomes([slow])["leader"] == 1


def test_a_found_entry_goes_into_l1_and_newer_than_skips_the_stale_one(
    redis_server: RedisServer,
) -> None:
    writer = setup_for(redis_server.url).cache
    setup = setup_for(redis_server.url)
    coordinator = setup.coordinator
    assert isinstance(coordinator, RedisCoordinator)
    stale = token_entry("stale")
    writer.set(app_key(), stale)
    with coordinator.hold(app_key()) as turn:
        assert turn.entry == stale
        assert not turn.leader
    assert setup.cache.peek(app_key()) == stale
    with coordinator.hold(app_key(), newer_than=stale.expires_on) as turn:
        assert turn.entry is None
        assert turn.leader  # the stale entry does not count: this caller refreshes
        assert redis_server.admin().keys("*:lock")
    assert not redis_server.admin().keys("*:lock")  # released on leaving


def test_keys_bound_to_a_process_key_and_an_absent_redis_take_no_lock() -> None:
    cache = setup_for(f"redis://127.0.0.1:{free_port()}").cache
    assert isinstance(cache, DistributedTokenCache)
    coordinator = RedisCoordinator(cache, LockPolicy(max_wait=0.2))
    started = time.monotonic()
    with coordinator.hold(app_key(bound=True)) as turn:
        assert turn is ON_YOUR_OWN
    with coordinator.hold(app_key()) as turn:  # Redis refused: no wait, no error
        assert turn == ON_YOUR_OWN
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("coordinator", [LocalCoordinator()])
def test_the_local_coordinator_never_waits(coordinator: LocalCoordinator) -> None:
    with coordinator.hold(app_key()) as turn:
        assert turn is ON_YOUR_OWN

    async def in_loop() -> None:
        async with coordinator.hold_async(app_key()) as turn:
            assert turn is ON_YOUR_OWN

    asyncio.run(in_loop())
