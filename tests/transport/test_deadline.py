"""The overall deadline of one exchange (`transport._deadline`), driven over `httpx.MockTransport`:
a body that trickles is cut once the deadline passes, a prompt one is read whole, the phase
timeouts are capped by the time left, and `IDENTITY_WEB_REQUEST_DEADLINE` is checked."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from identity_web import ConfigurationError
from identity_web.protocol._http import IDENTITY_DEADLINE, HttpRequest
from identity_web.transport._deadline import (
    DEADLINE_VARIABLE,
    Deadline,
    DeadlineExceededError,
    deadline_from_environ,
    send_within,
    send_within_async,
)


class Trickle(httpx.SyncByteStream, httpx.AsyncByteStream):
    """`chunks` bytes, one every `interval` seconds."""

    def __init__(self, chunks: int, interval: float) -> None:
        self.chunks, self.interval, self.closed = chunks, interval, False

    def __iter__(self) -> Iterator[bytes]:
        for _ in range(self.chunks):
            time.sleep(self.interval)
            yield b"x"

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            await asyncio.sleep(self.interval)
            yield b"x"

    def close(self) -> None:
        self.closed = True

    async def aclose(self) -> None:
        self.closed = True


def _answering(stream: Trickle) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, stream=stream))


def test_a_trickling_body_is_cut_once_the_deadline_passes() -> None:
    stream = Trickle(chunks=1000, interval=0.01)  # 10 s in all
    with httpx.Client(transport=_answering(stream)) as client:
        started = time.monotonic()
        with pytest.raises(DeadlineExceededError, match=r"deadline of 0\.3 s"):
            send_within(client, client.build_request("GET", "https://a.test/"), Deadline(0.3))
    assert 0.3 <= time.monotonic() - started < 1.5
    assert stream.closed


def test_a_trickling_body_is_cut_on_the_event_loop_too() -> None:
    stream = Trickle(chunks=1000, interval=0.01)

    async def main() -> None:
        async with httpx.AsyncClient(transport=_answering(stream)) as client:
            request = client.build_request("GET", "https://a.test/")
            await send_within_async(client, request, Deadline(0.3))

    with pytest.raises(DeadlineExceededError):
        asyncio.run(main())
    assert stream.closed


def test_a_body_within_the_deadline_is_read_whole() -> None:
    with httpx.Client(transport=_answering(Trickle(chunks=5, interval=0.01))) as client:
        response = send_within(client, client.build_request("GET", "https://a.test/"), Deadline(5))
    assert response.content == b"xxxxx"


def test_every_phase_timeout_is_capped_by_the_time_left() -> None:
    request = httpx.Request("GET", "https://a.test/", extensions={"timeout": {"read": 30.0}})
    Deadline(2.0).cap(request)
    timeouts = request.extensions["timeout"]
    assert set(timeouts) == {"connect", "read", "write", "pool"}
    assert all(0 < value <= 2.0 for value in timeouts.values())


def test_a_deadline_already_passed_refuses_to_start() -> None:
    now = [100.0]
    deadline = Deadline(1.0, clock=lambda: now[0])
    now[0] = 101.0
    with pytest.raises(DeadlineExceededError):
        deadline.left()


def test_identity_requests_carry_the_default_deadline() -> None:
    assert HttpRequest("GET", "https://login.test/").deadline == IDENTITY_DEADLINE == 60.0


def test_the_variable_sets_the_deadline() -> None:
    assert deadline_from_environ({}) is None
    assert deadline_from_environ({DEADLINE_VARIABLE: " 2.5 "}) == 2.5


@pytest.mark.parametrize("text", ["0", "-1", "nan", "inf", "soon"])
def test_a_bad_variable_is_a_configuration_error_naming_it(text: str) -> None:
    with pytest.raises(ConfigurationError, match=DEADLINE_VARIABLE):
        deadline_from_environ({DEADLINE_VARIABLE: text})
