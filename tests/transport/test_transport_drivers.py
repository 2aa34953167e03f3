"""The drivers: retry policies with injected sleep and clock, and flows run sync and async."""

from __future__ import annotations

import socket
from collections.abc import Generator
from dataclasses import dataclass, field

import pytest
from tls_test_server import Canned, TlsTestServer
from transport_pki import Pki

from identity_web import InvalidRequestError, NetworkError
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.protocol.steps import Step
from identity_web.transport import HttpTransport


@dataclass
class FakeTime:
    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.sleep(seconds)


@dataclass
class ScriptedPolicy:
    """Retries 503s and sends without an answer, with the given delays."""

    delays: tuple[float, ...]
    calls: list[tuple[int, int | None, float]] = field(default_factory=list)

    def next_delay(
        self, attempt: int, response: HttpResponse | None, elapsed: float
    ) -> float | None:
        self.calls.append((attempt, response.status if response else None, elapsed))
        if attempt > len(self.delays):
            return None
        if response is None or response.status == 503:
            return self.delays[attempt - 1]
        return None


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
async def transport(pki: Pki, fake_time: FakeTime):
    """Closed on the test's event loop, so its async connections are closed, not dropped."""
    async with HttpTransport(
        ca_bundle=pki.ca_bundle,
        sleep=fake_time.sleep,
        async_sleep=fake_time.async_sleep,
        clock=fake_time.clock,
    ) as transport:
        yield transport


def refused_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"https://127.0.0.1:{sock.getsockname()[1]}/token"


def test_retry_policy_is_honoured_with_the_injected_sleep(
    tls_server: TlsTestServer, transport: HttpTransport, fake_time: FakeTime
):
    tls_server.script(Canned(status=503), Canned(status=503))
    policy = ScriptedPolicy(delays=(0.5, 1.0, 2.0))
    response = transport.send(HttpRequest("GET", tls_server.url + "/", retry=policy))
    assert response.status == 200
    assert fake_time.sleeps == [0.5, 1.0]
    assert policy.calls == [(1, 503, 0.0), (2, 503, 0.5), (3, 200, 1.5)]
    assert len(tls_server.seen) == 3


async def test_retry_policy_is_honoured_async(
    tls_server: TlsTestServer, transport: HttpTransport, fake_time: FakeTime
):
    tls_server.script(Canned(status=503))
    policy = ScriptedPolicy(delays=(0.25,))
    response = await transport.send_async(HttpRequest("GET", tls_server.url + "/", retry=policy))
    assert response.status == 200
    assert fake_time.sleeps == [0.25]


def test_last_answer_is_returned_when_the_policy_stops(
    tls_server: TlsTestServer, transport: HttpTransport, fake_time: FakeTime
):
    tls_server.script(Canned(status=503), Canned(status=503), Canned(status=503))
    response = transport.send(
        HttpRequest("GET", tls_server.url + "/", retry=ScriptedPolicy(delays=(0.1,)))
    )
    assert response.status == 503
    assert fake_time.sleeps == [0.1]
    assert len(tls_server.seen) == 2


def test_no_policy_means_one_send(tls_server: TlsTestServer, transport: HttpTransport):
    tls_server.script(Canned(status=503))
    assert transport.send(HttpRequest("GET", tls_server.url + "/")).status == 503
    assert len(tls_server.seen) == 1


def test_sends_without_answer_are_retried_then_raised(
    transport: HttpTransport, fake_time: FakeTime
):
    policy = ScriptedPolicy(delays=(0.1, 0.2))
    with pytest.raises(NetworkError):
        transport.send(HttpRequest("POST", refused_url(), retry=policy))
    assert fake_time.sleeps == [0.1, 0.2]
    assert [status for _, status, _ in policy.calls] == [None, None, None]


async def test_sends_without_answer_are_retried_then_raised_async(
    transport: HttpTransport, fake_time: FakeTime
):
    with pytest.raises(NetworkError):
        await transport.send_async(
            HttpRequest("POST", refused_url(), retry=ScriptedPolicy(delays=(0.3,)))
        )
    assert fake_time.sleeps == [0.3]


def two_step_flow(base: str) -> Generator[HttpRequest, HttpResponse, str]:
    first = yield HttpRequest("GET", base + "/one")
    second = yield HttpRequest("POST", base + "/two", form={"from": first.json()["path"]})
    return f"{first.status}+{second.status}:{second.json()['path']}"


def test_run_drives_a_flow(tls_server: TlsTestServer, transport: HttpTransport):
    assert transport.run(two_step_flow(tls_server.url)) == "200+200:/two"
    assert [seen.path for seen in tls_server.seen] == ["/one", "/two"]
    assert tls_server.seen[1].body == b"from=%2Fone"


async def test_run_async_drives_a_flow(tls_server: TlsTestServer, transport: HttpTransport):
    assert await transport.run_async(two_step_flow(tls_server.url)) == "200+200:/two"


def fallback_flow(base: str) -> Step[str]:
    try:
        yield HttpRequest("GET", refused_url())
    except NetworkError:
        response = yield HttpRequest("GET", base + "/fallback")
        return response.json()["path"]
    return "unreachable"


def test_a_flow_can_react_to_a_network_error(tls_server: TlsTestServer, transport: HttpTransport):
    assert transport.run(fallback_flow(tls_server.url)) == "/fallback"


async def test_a_flow_can_react_to_a_network_error_async(
    tls_server: TlsTestServer, transport: HttpTransport
):
    assert await transport.run_async(fallback_flow(tls_server.url)) == "/fallback"


def test_unhandled_errors_propagate_and_close_the_flow(pki: Pki, transport: HttpTransport):
    closed: list[str] = []

    def flow() -> Step[None]:
        try:
            yield HttpRequest("GET", "http://127.0.0.1:1/", tls_identity=pki.binding_a)
        finally:
            closed.append("closed")

    with pytest.raises(InvalidRequestError):
        transport.run(flow())
    assert closed == ["closed"]


def test_bugs_are_not_thrown_into_the_flow(tls_server: TlsTestServer, transport: HttpTransport):
    class BrokenPolicy:
        def next_delay(self, attempt: int, response: HttpResponse | None, elapsed: float) -> float:
            raise ZeroDivisionError("bug in a policy")

    caught: list[BaseException] = []

    def flow() -> Step[None]:
        try:
            yield HttpRequest("GET", tls_server.url + "/", retry=BrokenPolicy())
        except Exception as error:
            caught.append(error)

    with pytest.raises(ZeroDivisionError):
        transport.run(flow())
    assert caught == []


def test_a_flow_without_requests_returns_at_once(transport: HttpTransport):
    def flow() -> Step[int]:
        return 42
        yield  # pragma: no cover - makes this a generator

    assert transport.run(flow()) == 42
