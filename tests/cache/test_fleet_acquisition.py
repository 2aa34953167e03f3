"""One acquisition per key: sync and async callers of one process, and a cold fleet of processes
on Redis, counted at the emulator. The real stack: settings → container → acquirer → emulator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from cache_helpers import ticking
from fleet_helpers import replica, token_requests
from redis_servers import RedisServer

from identity_web import AcquireTokenResult, TokenRequestOptions
from identity_web.emulator import Emulator

WORKER = Path(__file__).with_name("fleet_worker.py")


def test_threads_and_asyncio_tasks_on_one_cold_key_share_one_request(
    identity_web_emulator_clean: Emulator, tmp_path: Path
) -> None:
    emulator = identity_web_emulator_clean
    manifest = emulator.manifest
    emulator.inject_faults("entra.token", [{"status": None, "delay_ms": 300}])
    scope = manifest.resource.scope
    tokens: list[str] = []
    start = threading.Barrier(17)

    def in_thread() -> None:
        start.wait()
        tokens.append(services.token_acquirer.acquire_token_for_app(scope).access_token)

    async def in_tasks() -> list[str]:
        start.wait()  # blocks this loop's thread only until every caller is ready
        calls = (services.token_acquirer.acquire_token_for_app_async(scope) for _ in range(16))
        results = await asyncio.gather(*calls)
        await services.container.transport().aclose()  # this loop's clients, before it ends
        return [result.access_token for result in results]

    with replica(manifest.to_json(), None, "Bearer", tmp_path, environ=manifest.env()) as services:
        threads = [threading.Thread(target=in_thread) for _ in range(16)]
        for thread in threads:
            thread.start()
        tokens += asyncio.run(in_tasks())
        for thread in threads:
            thread.join()
    assert token_requests(emulator.requests()) == ["entra.token"]
    assert len(tokens) == 32
    assert len(set(tokens)) == 1


def run_fleet(
    emulator: Emulator, tmp_path: Path, redis_url: str | None, *, processes: int, threads: int
) -> list[dict[str, int]]:
    """`processes` replica processes, `threads` threads each, all starting at one instant."""
    manifest_path, env_path = tmp_path / "emulator.json", tmp_path / "emulator.env"
    emulator.write_files(manifest_path, env_path)
    environ = dict(os.environ)
    for line in env_path.read_text(encoding="utf-8").splitlines():
        name, _, value = line.partition("=")
        environ[name] = value.strip("'\"")
    environ["PYTHONPATH"] = os.pathsep.join([str(WORKER.parent), environ.get("PYTHONPATH", "")])
    args = {"manifest": str(manifest_path), "redis": redis_url, "threads": threads}
    args["start"] = time.time() + 4.0
    workers = [
        subprocess.Popen(  # noqa: S603 - our own worker script with the running interpreter
            [sys.executable, str(WORKER), json.dumps(args)],
            env=environ,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    outputs = [worker.communicate(timeout=120)[0] for worker in workers]
    assert all(worker.returncode == 0 for worker in workers), outputs
    return [json.loads(output) for output in outputs]


def test_eight_processes_of_sixteen_threads_on_a_cold_redis_make_one_request_per_key(
    identity_web_emulator_clean: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    emulator = identity_web_emulator_clean
    for endpoint in ("entra.token", "entra.mtls_token"):
        emulator.inject_faults(endpoint, [{"status": None, "delay_ms": 300}])
    outcomes = run_fleet(emulator, tmp_path, redis_server.url, processes=8, threads=16)
    assert Counter(token_requests(emulator.requests())) == {"entra.token": 1, "entra.mtls_token": 1}
    assert sum(o["identity_provider"] + o["cache"] for o in outcomes) == 8 * 16 * 2
    assert len(redis_server.admin().keys("fleet:v1:*")) == 2


def test_redis_killed_and_restarted_mid_run_acquisition_goes_on_then_uses_redis_again(
    identity_web_emulator_clean: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    emulator = identity_web_emulator_clean
    manifest = emulator.manifest
    scope = manifest.resource.scope
    services = replica(
        manifest.to_json(), redis_server.url, "Bearer", tmp_path, environ=manifest.env()
    )
    with services:
        acquire = services.token_acquirer.acquire_token_for_app
        assert acquire(scope).token_source.value == "identity_provider"
        redis_server.kill()
        started = time.monotonic()
        assert acquire(scope).token_source.value == "cache"  # L1, no Redis round trip
        assert time.monotonic() - started < 0.1
        bound = acquire(scope, bound=True)  # a cold key: the network, Redis refused
        assert bound.token_source.value == "identity_provider"
        cached = asyncio.run(services.token_acquirer.acquire_token_for_app_async(scope))
        assert cached.token_source.value == "cache"
        assert time.monotonic() - started < 5.0
        redis_server.start()
        time.sleep(2.5)  # the cool-down after a failure
        forced = acquire(scope, TokenRequestOptions(force_refresh=True))
        assert forced.token_source.value == "identity_provider"
    assert len(redis_server.admin().keys("fleet:v1:*")) == 1  # written to Redis again


def test_asyncio_replicas_on_redis_share_one_request_without_threads_for_redis(
    identity_web_emulator_clean: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    """Two replicas' asyncio callers of one cold key: the L2 read and the fleet's turn run on
    redis.asyncio (`get_async`, `hold_async`), and the fleet sends one token request."""
    emulator = identity_web_emulator_clean
    manifest = emulator.manifest
    emulator.inject_faults("entra.mtls_token", [{"status": None, "delay_ms": 300}])
    scope = manifest.resource.scope
    replicas = [
        replica(manifest.to_json(), redis_server.url, "MTLS_POP", tmp_path, environ=manifest.env())
        for _ in range(2)
    ]

    async def callers() -> list[str]:
        calls = [
            services.token_acquirer.acquire_token_for_app_async(scope, bound=True)
            for services in replicas
            for _ in range(16)
        ]
        try:
            return [result.access_token for result in await asyncio.gather(*calls)]
        finally:
            for services in replicas:  # on this loop: its connections close with the services
                await services.aclose()

    tokens = asyncio.run(callers())
    assert token_requests(emulator.requests()) == ["entra.mtls_token"]
    assert len(set(tokens)) == 1
    assert len(redis_server.admin().keys("fleet:v1:*")) == 1


def test_a_hung_redis_costs_asyncio_callers_one_timeout_and_never_blocks_the_loop(
    identity_web_emulator_clean: Emulator, redis_server: RedisServer, tmp_path: Path
) -> None:
    manifest = identity_web_emulator_clean.manifest
    services = replica(
        manifest.to_json(), redis_server.url, "Bearer", tmp_path, environ=manifest.env()
    )
    redis_server.pause()  # accepts connections, never answers

    async def acquire_then_close() -> tuple[AcquireTokenResult, int, float]:
        try:
            return await ticking(services.token_acquirer.acquire_token_for_app_async(scope))
        finally:
            redis_server.resume()
            await services.aclose()  # on this loop: its connections close with the services

    scope = manifest.resource.scope
    result, ticks, elapsed = asyncio.run(acquire_then_close())
    assert result.token_source.value == "identity_provider"
    assert elapsed < 4.0  # one 1 s socket timeout, then Redis is left alone while it cools down
    assert ticks >= elapsed * 100 * 0.5  # the loop kept running meanwhile
