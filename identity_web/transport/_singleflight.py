"""Single-flight: concurrent callers of one key share one acquisition.

Threads: the first caller of a key leads (runs the work); the others wait on its outcome. The
bookkeeping dict is guarded by one small lock, taken only on a cache miss. asyncio: one task per
key and event loop; every caller awaits it through `shield`, so a cancelled caller does not
cancel the shared work. A caller that holds a still-valid token (`fallback`) does not wait:
it keeps that token while the leader refreshes.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class _Call(Generic[V]):
    __slots__ = ("_done", "_error", "_value")

    def __init__(self) -> None:
        self._done = threading.Event()
        self._value: V | None = None
        self._error: BaseException | None = None

    def finish(self, value: V | None, error: BaseException | None) -> None:
        self._value, self._error = value, error
        self._done.set()

    def wait(self) -> V:
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._value is not None
        return self._value


class ThreadSingleFlight(Generic[V]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[Hashable, _Call[V]] = {}

    def run(self, key: Hashable, work: Callable[[], V], fallback: V | None = None) -> V:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = _Call()
        if not leader:
            return fallback if fallback is not None else call.wait()
        try:
            value = work()
        except BaseException as error:
            call.finish(None, error)
            raise
        else:
            call.finish(value, None)
            return value
        finally:
            with self._lock:
                del self._calls[key]


class AsyncSingleFlight(Generic[V]):
    def __init__(self) -> None:
        self._tasks: dict[tuple[asyncio.AbstractEventLoop, Hashable], asyncio.Task[V]] = {}

    async def run(
        self,
        key: Hashable,
        work: Callable[[], Coroutine[Any, Any, V]],
        fallback: V | None = None,
    ) -> V:
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        task = self._tasks.get(slot)
        if task is None:
            task = loop.create_task(work())
            self._tasks[slot] = task
            task.add_done_callback(lambda done: self._forget(slot, done))
        elif fallback is not None:
            return fallback
        return await asyncio.shield(task)

    def _forget(
        self, slot: tuple[asyncio.AbstractEventLoop, Hashable], task: asyncio.Task[V]
    ) -> None:
        if self._tasks.get(slot) is task:
            del self._tasks[slot]
        if not task.cancelled():
            task.exception()  # mark retrieved: callers that were cancelled never will
