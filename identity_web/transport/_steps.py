"""The I/O-free half of the drivers: stepping generators, retry decisions, request checks.

Both drivers (sync and async) run the same generators here and differ only in how they send
and sleep. A retry is itself a small generator: it yields the delay before the next send,
receives the response (or has the `NetworkError` thrown in), asks the request's `RetryPolicy`,
and either yields the next delay or returns the final response.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import urlsplit

from identity_web._errors import InvalidRequestError, NetworkError
from identity_web.protocol._http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)

T = TypeVar("T")
Y = TypeVar("Y")
S = TypeVar("S")


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    """A generator finished with `value`."""

    value: T


def start(generator: Generator[Y, S, T]) -> Y | Done[T]:
    """Run a generator to its first yield."""
    try:
        return next(generator)
    except StopIteration as stop:
        return Done(stop.value)


def advance(generator: Generator[Y, S, T], outcome: S | BaseException) -> Y | Done[T]:
    """Send a value into the generator, or throw an exception into it."""
    try:
        if isinstance(outcome, BaseException):
            return generator.throw(outcome)
        return generator.send(outcome)
    except StopIteration as stop:
        return Done(stop.value)


def retry_steps(
    request: HttpRequest, clock: Callable[[], float]
) -> Generator[float, HttpResponse, HttpResponse]:
    """Yield the delay before each send of `request` (0 first) until its retry policy stops.

    The driver sends the response in, or throws the `NetworkError` in; the final response is
    returned and the final `NetworkError` re-raised.
    """
    started = clock()
    attempt = 0
    delay = 0.0
    while True:
        try:
            outcome: HttpResponse | NetworkError = yield delay
        except NetworkError as error:
            outcome = error
        attempt += 1
        response = outcome if isinstance(outcome, HttpResponse) else None
        next_delay = None
        if request.retry is not None:
            next_delay = request.retry.next_delay(attempt, response, clock() - started)
        if next_delay is None:
            if isinstance(outcome, NetworkError):
                raise outcome
            return outcome
        delay = max(0.0, next_delay)
        logger.debug(
            "%s %s: %s; retry %d in %.2f s",
            request.method,
            safe_url(request.url),
            f"HTTP {response.status}" if response else f"no answer ({outcome})",
            attempt,
            delay,
        )


def check_request(request: HttpRequest) -> None:
    """Refuse, before any I/O, a request that would expose a bound credential."""
    scheme = urlsplit(request.url).scheme.lower()
    if request.tls_identity is not None and scheme != "https":
        raise InvalidRequestError(
            "",
            f"refusing to send {request.method} {safe_url(request.url)} with a client "
            f"certificate (x5t#S256 {request.tls_identity.x5t_s256}) over {scheme or 'no'} "
            "scheme: a bound request only goes over https",
        )
    if request.pinned_server_sha1 and scheme != "https":
        raise InvalidRequestError(
            "",
            f"refusing {request.method} {safe_url(request.url)}: a pinned server certificate "
            "needs an https URL",
        )


def safe_url(url: str) -> str:
    """The URL without its query and fragment (they may carry signatures or identifiers)."""
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        if parts.scheme
        else url.split("?", maxsplit=1)[0]
    )
