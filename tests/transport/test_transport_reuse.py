"""What the pooled clients keep between requests, over real TLS on 127.0.0.1: a repeated
downstream request is built once and sent again as it is; identity requests are built every
time; and no cookie a server sets is ever stored or sent back."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tls_test_server import Canned, TlsTestServer
from transport_pki import Pki

from identity_web.protocol import HttpRequest
from identity_web.transport import HttpTransport, _transport, ssl_context_for


class Built(list[str]):
    """The path of every httpx request built, and what each looked like when built."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[tuple[httpx.Request, tuple[Any, ...]]] = []

    def unchanged(self) -> bool:
        """Whether every built request is still as it was built (sending changed nothing)."""
        return all(_state(request) == state for request, state in self.requests)


def _state(request: httpx.Request) -> tuple[Any, ...]:
    timeout = dict(request.extensions["timeout"])
    body = b"".join(request.stream)  # type: ignore[arg-type]  # a ByteStream: sync iterable
    return request.method, str(request.url), list(request.headers.raw), timeout, body


@pytest.fixture
def built(monkeypatch: pytest.MonkeyPatch) -> Built:
    """Counts the httpx requests built by sync and async clients alike."""
    paths = Built()

    def counting(original: Any) -> Any:
        def build_request(self: Any, method: str, url: str, **kwargs: Any) -> httpx.Request:
            paths.append(httpx.URL(url).path)
            request: httpx.Request = original(self, method, url, **kwargs)
            paths.requests.append((request, _state(request)))
            return request

        return build_request

    monkeypatch.setattr(httpx.Client, "build_request", counting(httpx.Client.build_request))
    monkeypatch.setattr(
        httpx.AsyncClient, "build_request", counting(httpx.AsyncClient.build_request)
    )
    return paths


@pytest.fixture
def transport(pki: Pki) -> Iterator[HttpTransport]:
    with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        yield transport


def downstream(url: str, **fields: Any) -> HttpRequest:
    """A request shaped as `DownstreamApi` makes them: no overall deadline, no form."""
    return HttpRequest("GET", url, downstream=True, deadline=None, **fields)


def test_a_repeated_downstream_request_is_built_once(
    pki: Pki, tls_server: TlsTestServer, transport: HttpTransport, built: Built
) -> None:
    bound = downstream(
        tls_server.url + "/api", headers={"Authorization": "PoP t"}, tls_identity=pki.binding_a
    )
    answers = [transport.send(bound) for _ in range(3)]
    assert built == ["/api"]
    assert [answer.json()["client_x5t_s256"] for answer in answers] == [pki.binding_a.x5t_s256] * 3
    assert [seen.headers["Authorization"] for seen in tls_server.seen] == ["PoP t"] * 3
    assert built.unchanged()  # httpx sent it as it was: nothing added for the next send
    # an equal request that is another object is built for itself
    transport.send(dataclasses.replace(bound))
    assert built == ["/api", "/api"]


async def test_a_repeated_async_downstream_request_is_built_once(
    pki: Pki, tls_server: TlsTestServer, built: Built
) -> None:
    request = downstream(tls_server.url + "/api", content=b"{}", tls_identity=pki.binding_a)
    async with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        answers = [await transport.send_async(request) for _ in range(3)]
    assert built == ["/api"]
    assert {answer.json()["client_x5t_s256"] for answer in answers} == {pki.binding_a.x5t_s256}
    assert [seen.body for seen in tls_server.seen] == [b"{}"] * 3
    assert built.unchanged()


def test_the_kept_requests_are_bounded(
    tls_server: TlsTestServer,
    transport: HttpTransport,
    built: Built,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_transport, "REUSED_REQUESTS", 2)
    first, second, third = (downstream(f"{tls_server.url}/{n}") for n in "abc")
    for request in (first, second, first, third, first):
        transport.send(request)
    # `first` and `second` filled the map; `third` emptied it before being kept
    assert built == ["/a", "/b", "/c", "/a"]


@pytest.mark.parametrize(
    "fields",
    [
        # a token request: its client assertion must never be kept
        {
            "method": "POST",
            "form": {"grant_type": "client_credentials", "client_assertion": "signed"},
            "downstream": False,
        },
        {"method": "GET", "downstream": False},  # IMDS, OpenID metadata
        {"method": "POST", "form": {"a": "1"}},
        {"method": "POST", "json_body": {"a": 1}},
        {"method": "GET", "deadline": 5.0},  # `Deadline.cap` changes the timeouts in place
    ],
    ids=["token", "identity", "form", "json", "deadline"],
)
def test_other_requests_are_built_every_time(
    tls_server: TlsTestServer, transport: HttpTransport, built: Built, fields: dict[str, Any]
) -> None:
    request = HttpRequest(url=tls_server.url + "/x", **{"downstream": True, **fields})
    transport.send(request)
    transport.send(request)
    assert built == ["/x", "/x"]
    assert len(tls_server.seen) == 2


def test_a_request_with_credentials_in_its_url_is_not_kept(
    pki: Pki, tls_server: TlsTestServer, transport: HttpTransport, built: Built
) -> None:
    request = downstream(tls_server.url.replace("https://", "https://user:pw@") + "/x")
    transport.send(request)
    transport.send(request)
    assert built == ["/x", "/x"]


@pytest.mark.parametrize("kind", ["downstream", "identity"])
def test_cookies_a_server_sets_are_never_sent_back(
    tls_server: TlsTestServer, transport: HttpTransport, kind: str
) -> None:
    tls_server.script(Canned(headers={"Set-Cookie": "session=abc; Path=/"}))
    fields = {"downstream": True, "deadline": None} if kind == "downstream" else {}
    transport.send(HttpRequest("GET", tls_server.url + "/login", **fields))
    transport.send(HttpRequest("GET", tls_server.url + "/next", **fields))
    assert "Cookie" not in tls_server.seen[1].headers
    assert not transport.client_for(None).cookies


async def test_cookies_a_server_sets_are_never_sent_back_async(
    pki: Pki, tls_server: TlsTestServer
) -> None:
    tls_server.script(Canned(headers={"Set-Cookie": "session=abc; Path=/"}))
    async with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        await transport.send_async(downstream(tls_server.url + "/login"))
        await transport.send_async(downstream(tls_server.url + "/next"))
    assert "Cookie" not in tls_server.seen[1].headers


def test_a_cookie_header_of_the_request_still_goes_out(
    tls_server: TlsTestServer, transport: HttpTransport
) -> None:
    tls_server.script(Canned(headers={"Set-Cookie": "other=1; Path=/"}))
    request = downstream(tls_server.url + "/x", headers={"Cookie": "mine=1"})
    transport.send(request)
    transport.send(request)
    assert [seen.headers["Cookie"] for seen in tls_server.seen] == ["mine=1", "mine=1"]


async def test_a_second_burst_of_concurrent_calls_reuses_the_first_ones_connections(
    pki: Pki, tls_server: TlsTestServer
) -> None:
    """More concurrent calls than httpx keeps idle by default (20): every connection the first
    burst opened is kept, so the second burst makes no TLS handshake."""
    context = ssl_context_for(pki.binding_a, ca_bundle=pki.ca_bundle)
    request = downstream(tls_server.url + "/slow", tls_identity=pki.binding_a)
    burst = 40

    async def calls() -> int:
        tls_server.script(*(Canned(delay=0.2) for _ in range(burst)))
        before = context.session_stats()["connect"]
        answers = await asyncio.gather(*(transport.send_async(request) for _ in range(burst)))
        assert {answer.status for answer in answers} == {200}
        return int(context.session_stats()["connect"] - before)

    async with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        first = await calls()
        second = await calls()
    assert first > 20  # the burst was wider than httpx's default idle pool
    assert second == 0
