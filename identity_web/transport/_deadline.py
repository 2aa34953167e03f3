"""An overall deadline for one exchange: connect, send, headers and the last byte of the body.

httpx bounds each phase on its own (connect, write, every read), never the whole: a server that
trickles its answer a byte at a time, each byte well within the read timeout, holds the call for
as long as it likes. Identity traffic (token and OpenID requests to Entra ID, IMDS v1 and v2,
the hosting platforms' endpoints, Key Vault) sits on every request path of the application, so
each such request carries a deadline (`HttpRequest.deadline`, `IDENTITY_DEADLINE` by default):

* before sending, every phase timeout is capped by the time left;
* when the headers are in, the read timeout of the body is capped by the time left again, and
  the body is read as a stream, checking the deadline as each chunk arrives.

A body that trickles is cut once the deadline passes; one that stalls is cut by the capped read
timeout. The whole exchange ends within the deadline plus at most one capped read (below twice
the deadline); headers that trickle byte by byte are bounded only by httpx's per-read timeout
and the 64 kB header limit. The error is a `DeadlineExceededError`, an `httpx.TimeoutException`,
which the transport reports as a `NetworkError` like any other timeout.

`IDENTITY_WEB_REQUEST_DEADLINE` (seconds) replaces the default for the services built by
`TokenAcquirerFactory`. Downstream API calls carry no deadline (their time is the application's).
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.protocol._http import IDENTITY_DEADLINE

DEADLINE_VARIABLE = "IDENTITY_WEB_REQUEST_DEADLINE"
_PHASES = ("connect", "read", "write", "pool")


class DeadlineExceededError(httpx.TimeoutException):
    """The exchange took longer than its overall deadline."""


class Deadline:
    """The end of one exchange on `clock`; `left()` raises once it has passed."""

    __slots__ = ("_clock", "_ends", "seconds")

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._ends = clock() + seconds

    def left(self) -> float:
        left = self._ends - self._clock()
        if left <= 0:
            raise DeadlineExceededError(f"took longer than its deadline of {self.seconds:g} s")
        return left

    def cap(self, request: httpx.Request) -> httpx.Request:
        """Cap every phase timeout of `request` by the time left, in place (the routed copy of
        a request shares the timeout mapping; httpcore reads it as each phase begins)."""
        left = self.left()
        timeouts = request.extensions.setdefault("timeout", {})
        for phase in _PHASES:
            value = timeouts.get(phase)
            timeouts[phase] = left if value is None else min(value, left)
        return request

    def watch(self, response: httpx.Response) -> httpx.Response:
        """Cap the body's read timeout and check the deadline at each chunk of `response`."""
        self.cap(response.request)
        response.stream = _WatchedStream(response.stream, self)
        return response


class _WatchedStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A response body stream that raises `DeadlineExceededError` once the deadline passed."""

    def __init__(
        self, inner: httpx.SyncByteStream | httpx.AsyncByteStream, deadline: Deadline
    ) -> None:
        self._inner: Any = inner  # sync or async, as the client that made the response
        self._deadline = deadline

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._deadline.left()
            yield chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            self._deadline.left()
            yield chunk

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()


def send_within(client: httpx.Client, request: httpx.Request, deadline: Deadline) -> httpx.Response:
    """`client.send(request)` (body read) within `deadline`."""
    response = client.send(deadline.cap(request), stream=True)
    try:
        deadline.watch(response).read()
    except BaseException:
        response.close()
        raise
    return response


async def send_within_async(
    client: httpx.AsyncClient, request: httpx.Request, deadline: Deadline
) -> httpx.Response:
    """`send_within` for `httpx.AsyncClient`."""
    response = await client.send(deadline.cap(request), stream=True)
    try:
        await deadline.watch(response).aread()
    except BaseException:
        await response.aclose()
        raise
    return response


def deadline_from_environ(environ: Mapping[str, str]) -> float | None:
    """`IDENTITY_WEB_REQUEST_DEADLINE` as seconds, None when unset; a configuration error when
    it is not a finite number above 0."""
    text = environ.get(DEADLINE_VARIABLE, "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(
            [
                ConfigurationProblem(
                    DEADLINE_VARIABLE,
                    f"{text[:40]!r} is not a number of seconds above 0 "
                    f"(the default is {IDENTITY_DEADLINE:g})",
                )
            ]
        )
    return seconds
