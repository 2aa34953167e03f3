"""The two drivers of the step protocol (`identity_web.protocol.steps`): one sync, one async.

A driver takes a step, performs each effect it yields and sends the answer back (or throws the
error in), until the step returns. The dispatch on the effect type is the same in both, and the
retry step (`protocol.steps.retried`) is shared. They differ only where they must: how one
request is sent, how they sleep, where blocking work runs (the async driver moves it to a
worker thread unless the effect has a native coroutine, so the event loop never blocks), and
how a caller joins a shared sub-step (both drivers of a `Drivers` pair share one single-flight
registry, so sync and async callers of one key share one run).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from identity_web import _telemetry
from identity_web._errors import IdentityWebError
from identity_web.protocol._http import HttpRequest, HttpResponse
from identity_web.protocol.steps import (
    Attempt,
    Blocking,
    Effect,
    ReadClock,
    Shared,
    Sleep,
    Step,
    retried,
)
from identity_web.transport._singleflight import SingleFlight

T = TypeVar("T")

#: What an effect's failure looks like; it is thrown into the step at its `yield`. Anything
#: else is a bug and propagates out of the driver untouched.
_FAILURES = (IdentityWebError, OSError)


class SyncDriver:
    """Runs steps in the calling thread. `send` sends one request (the driver applies the
    request's retry policy around it, unless `retries=False`)."""

    def __init__(
        self,
        send: Callable[[HttpRequest], HttpResponse],
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        retries: bool = True,
        flights: SingleFlight | None = None,
    ) -> None:
        self._send = _telemetry.traced_send(send)  # spans, when OpenTelemetry is installed
        self._sleep = sleep
        self._clock = clock
        self._retries = retries
        self._flights = flights or SingleFlight()

    def run(self, step: Step[T]) -> T:
        """Perform what `step` yields until it returns; its result (or its error)."""
        try:
            effect = next(step)
            while True:
                try:
                    if type(effect) is HttpRequest and effect.retry is None:
                        answer = self._send(effect)  # the common effect, without the dispatch
                    else:
                        answer = self._perform(effect)
                except _FAILURES as error:
                    effect = step.throw(error)
                else:
                    effect = step.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            step.close()

    def _perform(self, effect: Effect) -> Any:  # noqa: PLR0911 - one return per effect kind
        if isinstance(effect, HttpRequest):
            if effect.retry is None or not self._retries:
                return self._send(effect)
            return self.run(retried(effect, self._clock))
        if isinstance(effect, ReadClock):
            return effect.clock()
        if isinstance(effect, Attempt):
            return self._send(effect.request)
        if isinstance(effect, Blocking):
            return effect.run()
        if isinstance(effect, Sleep):
            return self._sleep(effect.seconds)
        if isinstance(effect, Shared):
            shared = effect
            return self._flights.run(shared.key, lambda: self.run(shared.step()), shared.fallback)
        raise TypeError(f"a step yielded {type(effect).__name__}, which is not an effect")


class AsyncDriver:
    """Runs steps on the running event loop; blocking work goes to a worker thread."""

    def __init__(
        self,
        send: Callable[[HttpRequest], Awaitable[HttpResponse]],
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        retries: bool = True,
        flights: SingleFlight | None = None,
    ) -> None:
        self._send = _telemetry.traced_send_async(send)  # spans, when OpenTelemetry is installed
        self._sleep = sleep
        self._clock = clock
        self._retries = retries
        self._flights = flights or SingleFlight()

    async def run(self, step: Step[T]) -> T:
        """`SyncDriver.run` for asyncio."""
        try:
            effect = next(step)
            while True:
                try:
                    if type(effect) is HttpRequest and effect.retry is None:
                        answer = await self._send(effect)  # the common effect, undispatched
                    else:
                        answer = await self._perform(effect)
                except _FAILURES as error:
                    effect = step.throw(error)
                else:
                    effect = step.send(answer)
        except StopIteration as done:
            result: T = done.value
            return result
        finally:
            step.close()

    async def _perform(self, effect: Effect) -> Any:  # noqa: PLR0911 - one return per effect kind
        if isinstance(effect, HttpRequest):
            if effect.retry is None or not self._retries:
                return await self._send(effect)
            return await self.run(retried(effect, self._clock))
        if isinstance(effect, ReadClock):
            return effect.clock()
        if isinstance(effect, Attempt):
            return await self._send(effect.request)
        if isinstance(effect, Blocking):
            native = effect.run_async()
            return await (native if native is not None else asyncio.to_thread(effect.run))
        if isinstance(effect, Sleep):
            return await self._sleep(effect.seconds)
        if isinstance(effect, Shared):
            shared = effect
            return await self._flights.run_async(
                shared.key, lambda: self.run(shared.step()), shared.fallback
            )
        raise TypeError(f"a step yielded {type(effect).__name__}, which is not an effect")


class Drivers:
    """Both drivers over one pair of senders: a step runner (`run`, `run_async`).

    `send_async` defaults to calling `send` (for senders that never block, as in tests);
    `retries=False` sends every request once whatever its policy (tests that script each answer).
    """

    def __init__(
        self,
        send: Callable[[HttpRequest], HttpResponse],
        send_async: Callable[[HttpRequest], Awaitable[HttpResponse]] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        retries: bool = True,
    ) -> None:
        flights = SingleFlight()  # one registry: sync and async callers of a key share a run
        self.sync = SyncDriver(send, sleep=sleep, clock=clock, retries=retries, flights=flights)
        self.asynchronous = AsyncDriver(
            send_async or _awaitable(send),
            sleep=async_sleep,
            clock=clock,
            retries=retries,
            flights=flights,
        )

    def run(self, step: Step[T]) -> T:
        return self.sync.run(step)

    async def run_async(self, step: Step[T]) -> T:
        return await self.asynchronous.run(step)


def _awaitable(
    send: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
    async def send_async(request: HttpRequest) -> HttpResponse:
        return send(request)

    return send_async
