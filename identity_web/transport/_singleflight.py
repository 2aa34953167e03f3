"""Single-flight: concurrent callers of one key share one run, threads and asyncio tasks alike.

One registry serves both drivers, so a sync caller and an async caller of one cold key make one
acquisition between them. The first caller of a key leads: a thread runs the work itself, a
task runs it as a task of its loop (shielded: a cancelled caller does not cancel shared work).
Followers wait for the leader's outcome: a thread on a `threading.Event`, a task on a future of
its own loop, which the leader settles with `call_soon_threadsafe` — the event loop never
blocks. The registry takes no lock: joining is one `dict.setdefault`, atomic under the GIL.

A caller holding a still-usable `fallback` never waits: it gets the fallback at once, and when
nobody leads yet the work starts in the background (a thread, or a task of the running loop).
That is the refresh ahead of expiry: every caller, the one that noticed included, keeps the
valid token while one refresh runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import threading
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

V = TypeVar("V")


class _Call(Generic[V]):
    """One run of the work: its outcome, and the asyncio futures waiting for it."""

    __slots__ = ("done", "error", "loop", "value", "waiters")

    def __init__(self, loop: asyncio.AbstractEventLoop | None) -> None:
        self.loop = loop  # the leader's loop, None for a thread
        self.done = threading.Event()
        self.value: V | None = None
        self.error: BaseException | None = None
        self.waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def finish(self, value: V | None, error: BaseException | None) -> None:
        self.value, self.error = value, error
        self.done.set()
        for loop, future in list(self.waiters):  # later joiners see `done` and settle themselves
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody waits there
                loop.call_soon_threadsafe(_settle, future)

    def outcome(self) -> V:
        if self.error is not None:
            raise self.error
        assert self.value is not None
        return self.value

    @property
    def cancelled(self) -> bool:
        return isinstance(self.error, asyncio.CancelledError)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class SingleFlight:
    """The in-flight registry both drivers of one transport share."""

    def __init__(self) -> None:
        self._calls: dict[Hashable, _Call[Any]] = {}
        self._background: set[asyncio.Task[Any] | threading.Thread] = set()

    def _join(
        self, key: Hashable, loop: asyncio.AbstractEventLoop | None
    ) -> tuple[_Call[Any], bool]:
        fresh: _Call[Any] = _Call(loop)
        call = self._calls.setdefault(key, fresh)
        return call, call is fresh

    def _finish(
        self, key: Hashable, call: _Call[V], value: V | None, error: BaseException | None
    ) -> None:
        if self._calls.get(key) is call:
            del self._calls[key]
        call.finish(value, error)

    # -- threads ---------------------------------------------------------------------------

    def run(self, key: Hashable, work: Callable[[], V], fallback: V | None = None) -> V:
        """`work()` once for the concurrent callers of `key`, in the calling thread."""
        while True:
            call: _Call[V]
            call, leader = self._join(key, None)
            if leader:
                if fallback is None:
                    return self._lead(key, call, work)
                self._in_thread(key, call, work)
                return fallback
            if fallback is not None:
                return fallback
            if _leads_on_this_thread(call):
                return work()  # the leader is a task of this very thread's loop: waiting deadlocks
            call.done.wait()
            if not call.cancelled:  # the leader's loop went away: take the lead
                value: V = call.outcome()
                return value

    def _lead(self, key: Hashable, call: _Call[V], work: Callable[[], V]) -> V:
        try:
            value = work()
        except BaseException as error:
            self._finish(key, call, None, error)
            raise
        self._finish(key, call, value, None)
        return value

    def _in_thread(self, key: Hashable, call: _Call[V], work: Callable[[], V]) -> None:
        def lead() -> None:
            try:
                self._lead(key, call, work)
            finally:
                self._background.discard(thread)

        thread = threading.Thread(target=lead, name="identity-web-refresh", daemon=True)
        self._background.add(thread)
        thread.start()

    # -- asyncio ---------------------------------------------------------------------------

    async def run_async(
        self,
        key: Hashable,
        work: Callable[[], Coroutine[Any, Any, V]],
        fallback: V | None = None,
    ) -> V:
        """`work()` once for the concurrent callers of `key`, as a task of the running loop."""
        loop = asyncio.get_running_loop()
        while True:
            call, leader = self._join(key, loop)
            if leader:
                task = loop.create_task(work())
                task.add_done_callback(functools.partial(self._task_done, key, call))
                if fallback is not None:
                    self._background.add(task)
                    return fallback
                return await asyncio.shield(task)
            if fallback is not None:
                return fallback
            waiter: asyncio.Future[None] = loop.create_future()
            call.waiters.append((loop, waiter))
            if call.done.is_set():
                _settle(waiter)
            await waiter
            if not call.cancelled:
                return call.outcome()  # type: ignore[no-any-return]

    def _task_done(self, key: Hashable, call: _Call[V], task: asyncio.Task[V]) -> None:
        self._background.discard(task)
        if task.cancelled():
            self._finish(key, call, None, asyncio.CancelledError())
            return
        error = task.exception()  # also marks it retrieved: cancelled callers never will
        self._finish(key, call, None if error is not None else task.result(), error)


def _leads_on_this_thread(call: _Call[Any]) -> bool:
    if call.loop is None:
        return False
    try:
        return asyncio.get_running_loop() is call.loop
    except RuntimeError:
        return False
