"""One flight per key whether the callers are threads or tasks (or both at once)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from identity_web.transport._singleflight import SingleFlight


def test_threads_and_tasks_of_one_key_share_one_run() -> None:
    flights: SingleFlight[int] = SingleFlight()
    started, release = threading.Event(), threading.Event()
    runs: list[str] = []

    def work() -> int:
        runs.append("thread")
        started.set()
        release.wait(5)
        return 7

    async def async_work() -> int:
        runs.append("task")
        return 8

    async def tasks() -> list[int]:
        started.wait(5)
        waiting = [asyncio.create_task(flights.run_async("k", async_work)) for _ in range(20)]
        await asyncio.sleep(0.05)
        release.set()
        return list(await asyncio.gather(*waiting))

    results: list[int] = []
    leader = threading.Thread(target=lambda: results.append(flights.run("k", work)))
    leader.start()
    assert asyncio.run(tasks()) == [7] * 20
    leader.join(5)
    assert results == [7]
    assert runs == ["thread"]


async def test_a_task_leader_serves_a_waiting_thread_and_its_error_reaches_everyone() -> None:
    flights: SingleFlight[int] = SingleFlight()
    gate = asyncio.Event()

    async def failing() -> int:
        await gate.wait()
        raise OSError("refused")

    first = asyncio.create_task(flights.run_async("k", failing))
    await asyncio.sleep(0)
    follower = asyncio.create_task(asyncio.to_thread(flights.run, "k", lambda: 1))
    await asyncio.sleep(0.05)
    gate.set()
    for waiter in (first, follower):
        with pytest.raises(OSError, match="refused"):
            await waiter
    assert await flights.run_async("k", _one) == 1  # the key is free again


async def _one() -> int:
    return 1
