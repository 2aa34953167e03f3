"""The one step protocol: what every conversation yields, and how retries are decided.

A *step* is a generator that yields *effects* (plain values saying what it needs) and receives
their answers; it returns its result. Sub-steps compose with `yield from`. Steps do no I/O,
take no locks and read no clock: two drivers in `identity_web.transport` (one sync, one async)
perform the effects. An effect that fails is thrown into the step at its `yield`.

| Effect | The driver … | answers |
|---|---|---|
| `HttpRequest` | sends it (with its TLS identity), applying its `retry` policy | `HttpResponse` |
| `Attempt` | sends the request once, no retry | `HttpResponse` |
| `Sleep` | waits (`asyncio.sleep` on the async side) | None |
| `ReadClock` | calls the clock it carries | float |
| `Blocking` (below) | `run()`; async: awaits `run_async()`, or `run()` off the loop | its answer |
| `Shared` | runs the sub-step once per key for concurrent callers (single-flight) | its result |

`Blocking` effects: `ReadFile`, `FileExists` (here), `GenerateKey`, `Attest` (managed identity),
`LoadCredential` (credentials), `StoreToken`, `ReadCache`, `HoldTurn`, `LeaveTurn` (cache). Only
single-flight, sleeping and where `Blocking.run()` executes differ between the drivers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Generator, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

from identity_web._errors import NetworkError
from identity_web.protocol._http import HttpRequest, HttpResponse, redact_url

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Attempt:
    """Send `request` once (the retry step below yields these)."""

    request: HttpRequest


@dataclass(frozen=True, slots=True)
class Sleep:
    """Wait `seconds` before the next effect."""

    seconds: float


@dataclass(frozen=True, slots=True)
class ReadClock:
    """The time now, from `clock` (the step's owner decides which clock: wall or monotonic)."""

    clock: Callable[[], float]


class Blocking:
    """Work that may block (files, key generation, a loader): the driver calls `run()`,
    on the async side in a worker thread. Subclasses are small frozen values."""

    __slots__ = ()

    def run(self) -> Any:
        raise NotImplementedError

    def run_async(self) -> Awaitable[Any] | None:
        """The same work as an awaitable that never blocks the loop, or None (the default): the
        async driver then calls `run()` in a worker thread."""
        return None


class FileTooLargeError(OSError):
    """`ReadFile` refused a file larger than its limit (`size` bytes)."""

    def __init__(self, path: str, size: int) -> None:
        super().__init__(f"{path} is {size} bytes")
        self.size = size


@dataclass(frozen=True, slots=True)
class ReadFile(Blocking):
    """The bytes of `path`; `FileTooLargeError` when it holds more than `limit` bytes."""

    path: str
    limit: int | None = None

    def run(self) -> bytes:
        with open(self.path, "rb") as handle:
            if self.limit is None:
                return handle.read()
            size = os.fstat(handle.fileno()).st_size
            if size > self.limit:
                raise FileTooLargeError(self.path, size)
            return handle.read(self.limit + 1)


@dataclass(frozen=True, slots=True)
class FileExists(Blocking):
    """Whether `path` exists."""

    path: str

    def run(self) -> bool:
        return os.path.exists(self.path)


@dataclass(frozen=True, slots=True)
class Shared(Generic[T]):
    """Run `step()` once for all concurrent callers of `key`; a caller holding a still-usable
    `fallback` does not wait for the leader."""

    key: Hashable
    step: Callable[[], Step[T]] = field(repr=False)
    fallback: T | None = field(default=None, repr=False)


Effect: TypeAlias = HttpRequest | Attempt | Sleep | ReadClock | Blocking | Shared[Any]
Step: TypeAlias = Generator[Effect, Any, T]
"""A step yields effects, receives their answers, and returns `T`."""


class StepRunner(Protocol):
    """Runs steps with the sync or the async driver (`identity_web.transport.HttpTransport`)."""

    def run(self, step: Step[T]) -> T: ...

    async def run_async(self, step: Step[T]) -> T: ...


def retried(request: HttpRequest, clock: Callable[[], float]) -> Step[HttpResponse]:
    """Send `request` until its retry policy stops; the last response (or error) is the result.

    `clock` is monotonic seconds, for the policy's `elapsed`.
    """
    policy = request.retry
    if policy is None:
        response: HttpResponse = yield Attempt(request)
        return response
    started: float = yield ReadClock(clock)
    attempt = 0
    while True:
        outcome: HttpResponse | NetworkError
        try:
            outcome = yield Attempt(request)
        except NetworkError as error:
            outcome = error
        attempt += 1
        response_or_none = outcome if isinstance(outcome, HttpResponse) else None
        now: float = yield ReadClock(clock)
        delay = policy.next_delay(attempt, response_or_none, now - started)
        if delay is None:
            if isinstance(outcome, NetworkError):
                raise outcome
            return outcome
        delay = max(0.0, delay)
        logger.debug(
            "%s %s: %s; retry %d in %.2f s",
            request.method,
            redact_url(request.url),
            f"HTTP {response_or_none.status}" if response_or_none else f"no answer ({outcome})",
            attempt,
            delay,
        )
        if delay:
            yield Sleep(delay)
