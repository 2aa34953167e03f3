"""Single-flight: concurrent callers of one key share one acquisition, whatever they run on.

One registry per pair of drivers, shared by threads and by the tasks of every event loop: the
first caller of a key leads (runs the work) and the others wait on its outcome, a thread by
blocking on the future, a task by awaiting it (`asyncio.wrap_future`, the loop never blocks).
So 64 threads and 256 tasks asking for one expired token make one request, not one per world.
The bookkeeping dict takes no lock (`setdefault` and `del` are atomic), so a task never waits
for a lock on the event loop thread. An async
leader's work runs as its own task, awaited through `shield`: a cancelled caller does not
cancel the shared work. A caller that holds a still-valid token (`fallback`) does not wait: it
keeps that token while the leader refreshes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class SingleFlight(Generic[V]):
    def __init__(self) -> None:
        self._calls: dict[Hashable, Future[V]] = {}

    def run(self, key: Hashable, work: Callable[[], V], fallback: V | None = None) -> V:
        """For threads: lead and run `work`, or wait for the leader (thread or task)."""
        call, leader = self._join(key)
        if not leader:
            return fallback if fallback is not None else call.result()
        try:
            value = work()
        except BaseException as error:
            self._finish(key, call, None, error)
            raise
        self._finish(key, call, value, None)
        return value

    async def run_async(
        self,
        key: Hashable,
        work: Callable[[], Coroutine[Any, Any, V]],
        fallback: V | None = None,
    ) -> V:
        """For tasks: the same, awaiting the leader's outcome without blocking the loop."""
        call, leader = self._join(key)
        if leader:
            asyncio.get_running_loop().create_task(self._lead(key, call, work))
        elif fallback is not None:
            return fallback
        return await asyncio.shield(asyncio.wrap_future(call))

    async def _lead(
        self, key: Hashable, call: Future[V], work: Callable[[], Coroutine[Any, Any, V]]
    ) -> None:
        try:
            value = await work()
        except BaseException as error:  # handed to every waiter, not swallowed
            self._finish(key, call, None, error)
        else:
            self._finish(key, call, value, None)

    def _join(self, key: Hashable) -> tuple[Future[V], bool]:
        """The key's flight, and whether this caller created it (and so leads it)."""
        mine: Future[V] = Future()
        call = self._calls.setdefault(key, mine)
        return call, call is mine

    def _finish(
        self, key: Hashable, call: Future[V], value: V | None, error: BaseException | None
    ) -> None:
        del self._calls[key]  # only the leader removes its flight
        if error is not None:
            call.set_exception(error)
        else:
            call.set_result(value)  # type: ignore[arg-type] # work returned a V
