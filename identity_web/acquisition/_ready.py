"""`Ready`: a coroutine whose result is already there, awaited without a Python frame.

The asyncio cache hit (`AuthorizationHeaderProvider.create_authorization_header_async`) hands
out the `Ready` of the header it holds instead of starting a new coroutine: `await` on it runs in
C (it is an `asyncio.Future`, done from the start), so the asyncio hit costs about what the sync
one does (docs/performance.md, section 1).

It is also a `collections.abc.Coroutine`, and asyncio takes it as one everywhere:
`asyncio.run`, `create_task`, `gather`, `wait_for`, `shield` and `run_until_complete` wrap it in
a task of the running loop, whose one step reads the result from `send`. What differs from a
coroutine: it may be awaited any number of times, from any thread or event loop, and never
warns when it is not awaited (there is nothing left to run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, NoReturn, TypeVar, cast

T = TypeVar("T")


class _NoLoop:
    """The event loop an `asyncio.Future` is made for, for a future that is done at birth: the
    future asks it `get_debug()` once, and a done future with no callbacks asks nothing else."""

    def get_debug(self) -> bool:
        return False


_NO_LOOP = cast(asyncio.AbstractEventLoop, _NoLoop())


class Ready(asyncio.Future[T], Coroutine[Any, Any, T]):
    """`value` as a coroutine that is finished before it starts."""

    # Not a future to `asyncio.isfuture`: asyncio runs it in a task of the running loop, as any
    # coroutine, instead of waiting on it as a future of another loop.
    _asyncio_future_blocking = None  # type: ignore[assignment]

    def __init__(self, value: T) -> None:
        super().__init__(loop=_NO_LOOP)
        self.set_result(value)

    def send(self, value: object) -> NoReturn:
        """A task's first (and only) step: the result, as a coroutine that returns it."""
        raise StopIteration(self.result())

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> NoReturn:
        """What is thrown into a coroutine that has not started comes straight back out (a
        task cancelled before its first step)."""
        error = typ if val is None else val
        if isinstance(error, type):
            error = error()
        raise error.with_traceback(tb) if tb is not None else error

    def close(self) -> None:
        """Nothing runs, so nothing to close."""

    def __repr__(self) -> str:
        return f"Ready({type(self.result()).__name__})"
