"""`Ready`, what the asyncio cache hit returns, is taken as a coroutine everywhere asyncio takes
one, gives its value every time, from any loop or thread, and never warns."""

from __future__ import annotations

import asyncio
import gc
import inspect
import threading
import warnings
from collections.abc import Coroutine

import pytest

from identity_web.acquisition._ready import Ready


def test_it_is_a_coroutine_to_asyncio_and_not_a_future() -> None:
    ready = Ready("header")
    assert isinstance(ready, Coroutine)
    assert asyncio.iscoroutine(ready)
    assert inspect.isawaitable(ready)
    assert not asyncio.isfuture(ready)  # else asyncio would tie it to the loop it was made in


def test_asyncio_run_takes_it_again_and_again() -> None:
    ready = Ready("header")
    assert asyncio.run(ready) == "header"
    assert asyncio.run(ready) == "header"  # a new loop each time


def test_every_way_of_waiting_gives_the_value() -> None:
    ready = Ready("header")

    async def main() -> list[object]:
        return [
            await ready,
            await ready,
            await asyncio.create_task(ready),
            await asyncio.wait_for(ready, 1),
            await asyncio.shield(ready),
            *await asyncio.gather(ready, ready, asyncio.sleep(0, "slept")),
        ]

    assert asyncio.run(main()) == ["header"] * 7 + ["slept"]


def test_a_task_cancelled_before_it_starts_is_cancelled() -> None:
    async def main() -> None:
        task = asyncio.create_task(Ready("header"))
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


def test_other_threads_and_loops_await_it_too() -> None:
    ready = Ready("header")
    seen: list[object] = []
    threads = [threading.Thread(target=lambda: seen.append(asyncio.run(ready))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    loop = asyncio.new_event_loop()
    try:
        seen.append(loop.run_until_complete(ready))
    finally:
        loop.close()
    assert seen == ["header"] * 5


def test_driving_it_by_hand_returns_the_value_at_once() -> None:
    ready = Ready("header")
    with pytest.raises(StopIteration) as stopped:
        ready.send(None)
    assert stopped.value.value == "header"
    with pytest.raises(ValueError, match="thrown"):
        ready.throw(ValueError("thrown"))
    ready.close()


def test_one_left_unawaited_does_not_warn() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Ready("header")
        gc.collect()


def test_its_repr_names_the_type_of_the_value_only() -> None:
    assert repr(Ready("secret-token")) == "Ready(str)"
