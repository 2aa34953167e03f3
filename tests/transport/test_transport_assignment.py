"""The assignment pass our pools use (`transport._assignment`): one idle connection per waiting
request, and a held connection never given away or closed.

The pass is pure logic over the pool's state, so most cases run it on a pool of stand-in
connections and httpcore's own request objects; the last ones run the real pools of
`HttpTransport` over TLS on 127.0.0.1 and count the passes.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import httpcore
import httpx
import pytest
from httpcore._sync.connection_pool import PoolRequest
from hypothesis import given, settings
from hypothesis import strategies as st
from tls_test_server import TlsTestServer
from transport_pki import Pki

from identity_web.protocol import HttpRequest
from identity_web.transport import HttpTransport, _assignment, ssl_context_for
from identity_web.transport._connect_to import ConnectTo

A, B = "https://a.example", "https://b.example"


class Connection:
    """A connection as the pool sees it: an origin and a state."""

    ids = itertools.count(1)

    def __init__(self, origin: str, state: str = "idle", *, expired: bool = False) -> None:
        self.origin = httpcore.URL(origin).origin
        self.state = state
        self.expired = expired
        self.name = f"c{next(self.ids)}"

    def can_handle_request(self, origin: httpcore.Origin) -> bool:
        return origin == self.origin

    def is_available(self) -> bool:
        return self.state == "idle"

    def is_idle(self) -> bool:
        return self.state == "idle"

    def is_closed(self) -> bool:
        return self.state == "closed"

    def has_expired(self) -> bool:
        return self.expired

    def __repr__(self) -> str:
        return self.name


def waiting(origin: str) -> PoolRequest:
    return PoolRequest(httpcore.Request("GET", origin + "/x"))


def holding(connection: Connection) -> PoolRequest:
    """A request the pool gave `connection` to (running on it, or about to start)."""
    request = waiting(str(connection.origin))
    request.assign_to_connection(connection)  # type: ignore[arg-type]  # a stand-in
    return request


def pool(
    connections: list[Connection],
    requests: list[PoolRequest],
    *,
    max_connections: int = 10,
    keepalive: int = 10,
) -> SimpleNamespace:
    def create_connection(origin: httpcore.Origin) -> Connection:
        return Connection(f"{origin.scheme.decode()}://{origin.host.decode()}", "new")

    return SimpleNamespace(
        _connections=connections,
        _requests=requests,
        _max_connections=max_connections,
        _max_keepalive_connections=keepalive,
        create_connection=create_connection,
    )


def given_to(requests: list[PoolRequest]) -> list[Any]:
    return [request.connection for request in requests]


def test_an_idle_connection_goes_to_one_waiting_request() -> None:
    idle = Connection(A)
    requests = [waiting(A), waiting(A), waiting(A)]
    state = pool([idle], requests)
    assert _assignment.assign(state) == []
    first, second, third = given_to(requests)
    assert first is idle
    assert len({id(first), id(second), id(third)}) == 3
    assert state._connections == [idle, second, third]


def test_httpcores_own_pass_still_gives_it_to_every_waiting_request() -> None:
    """Why the pass exists: when this fails, httpcore gives an idle connection to one request,
    and `_assignment` can go (encode/httpcore#1035)."""
    idle = Connection(A)
    requests = [waiting(A), waiting(A), waiting(A)]
    httpcore.AsyncConnectionPool._assign_requests_to_connections(pool([idle], requests))  # type: ignore[arg-type]
    assert given_to(requests) == [idle, idle, idle]


def test_a_held_connection_is_neither_given_away_nor_closed() -> None:
    # idle (its request has not started yet), expired, and above the keep-alive limit
    held = Connection(A, expired=True)
    other = Connection(A)
    requests = [holding(held), waiting(A)]
    state = pool([held, other], requests, keepalive=0)
    closing = _assignment.assign(state)
    assert held in state._connections
    assert held not in closing
    assert given_to(requests)[1] not in (held, other)  # `other` was closed as surplus
    assert closing == [other]


def test_a_connection_left_by_a_cancelled_request_is_closed() -> None:
    """Given to a request that was cancelled (or timed out) before it started: held by none,
    neither idle nor closed. httpcore keeps it, and its slot, for good (encode/httpcore#1093)."""
    left, idle = Connection(A, "new"), Connection(A)
    requests = [waiting(A)]
    state = pool([left, idle], requests, max_connections=2)
    assert _assignment.assign(state) == [left]
    assert given_to(requests) == [idle]
    stock = pool([left, idle], [waiting(A)], max_connections=2)
    assert httpcore.ConnectionPool._assign_requests_to_connections(stock) == []  # type: ignore[arg-type]
    assert left in stock._connections


def test_a_held_connection_is_not_probed() -> None:
    """A socket poll per held connection per pass would halve the throughput of 100 asyncio
    callers (docs/transport.md); a held connection the server dropped is met by its request."""
    probed: list[Connection] = []

    class Probed(Connection):
        def has_expired(self) -> bool:
            probed.append(self)
            return super().has_expired()

    held, free = Probed(A, expired=True), Probed(A)
    state = pool([held, free], [holding(held), waiting(A)])
    assert _assignment.assign(state) == []
    assert probed == [free]
    assert state._connections == [held, free]


def test_closed_expired_and_surplus_idle_connections_leave_the_pool() -> None:
    closed, expired = Connection(A, "closed"), Connection(A, expired=True)
    oldest, newer, newest = Connection(A), Connection(A), Connection(A)
    busy = [Connection(A, "active") for _ in range(3)]
    requests = [holding(connection) for connection in busy]
    state = pool([closed, expired, oldest, *busy, newer, newest], requests, keepalive=2)
    closing = _assignment.assign(state)
    # the idle ones are counted (3 against 2 kept alive), not every connection; oldest first
    assert closing == [expired, oldest]
    assert state._connections == [*busy, newer, newest]


def test_a_full_pool_makes_room_from_an_idle_connection_to_another_origin() -> None:
    busy = Connection(A, "active")
    elsewhere = Connection(B)
    requests = [holding(busy), waiting(A)]
    state = pool([busy, elsewhere], requests, max_connections=2)
    closing = _assignment.assign(state)
    new = given_to(requests)[1]
    assert closing == [elsewhere]
    assert state._connections == [busy, new]
    assert new.origin == httpcore.URL(A).origin


def test_a_full_pool_of_held_connections_leaves_the_request_waiting() -> None:
    busy = [Connection(A, "active"), Connection(A, "active")]
    requests = [holding(busy[0]), holding(busy[1]), waiting(A)]
    state = pool(list(busy), requests, max_connections=2)
    assert _assignment.assign(state) == []
    assert requests[2].is_queued()
    assert state._connections == busy


def test_the_oldest_waiting_request_is_served_first() -> None:
    idle = Connection(A)
    requests = [waiting(A), waiting(A)]
    _assignment.assign(pool([idle], requests, max_connections=1))
    assert given_to(requests) == [idle, None]


STATES = st.sampled_from(["idle", "active", "closed", "new"])


@st.composite
def pools(draw: st.DrawFn) -> tuple[SimpleNamespace, list[Connection]]:
    connections = [
        Connection(draw(st.sampled_from([A, B])), draw(STATES), expired=draw(st.booleans()))
        for _ in range(draw(st.integers(0, 8)))
    ]
    live = [c for c in connections if c.state in ("active", "new")]
    requests = [holding(c) for c in live if draw(st.booleans())]
    # an idle connection may be held too: given to a request that has not started on it yet
    requests += [holding(c) for c in connections if c.state == "idle" and draw(st.booleans())]
    requests += [waiting(draw(st.sampled_from([A, B]))) for _ in range(draw(st.integers(0, 8)))]
    draw(st.randoms()).shuffle(requests)
    state = pool(
        connections,
        requests,
        max_connections=draw(st.integers(max(1, len(connections)), 12)),
        keepalive=draw(st.integers(0, 4)),
    )
    return state, list(connections)


@settings(max_examples=300)
@given(pools())
def test_every_pass_keeps_the_pools_promises(drawn: tuple[SimpleNamespace, list[Any]]) -> None:
    state, before = drawn
    held_before = {id(r.connection) for r in state._requests if r.connection is not None}
    waiting_before = [r for r in state._requests if r.is_queued()]
    closing = _assignment.assign(state)
    after = state._connections
    # no connection is in the pool twice, or both kept and closed
    assert len({id(c) for c in after}) == len(after)
    assert not {id(c) for c in closing} & {id(c) for c in after}
    # a held connection stays, unless it was already closed
    for connection in before:
        if id(connection) in held_before and not connection.is_closed():
            assert connection in after
    # every connection of a request is in the pool, and none serves two requests
    given = [r.connection for r in state._requests if r.connection is not None]
    assert all(c in after for c in given)
    assert len({id(c) for c in given}) == len(given)
    # what stays is idle or held: nothing keeps a slot for a request that is gone
    assert all(c.is_idle() or c in given for c in after)
    # a request only gets a connection to its origin
    for request in state._requests:
        if request.connection is not None:
            assert request.connection.can_handle_request(request.request.url.origin)
    # the pool never grows past its limit through the pass (it may start above it)
    assert len(after) <= max(state._max_connections, len(before))
    # idle connections no request holds stay within the keep-alive limit
    free = [c for c in after if c.is_idle() and id(c) not in {id(g) for g in given}]
    assert len(free) <= state._max_keepalive_connections
    # first come, first served: a request left waiting means none after it got a new connection
    left = [r for r in waiting_before if r.is_queued()]
    if left:
        later = waiting_before[waiting_before.index(left[0]) :]
        assert not any(r.connection is not None and r.connection.state == "new" for r in later)


# -- the real pools -------------------------------------------------------------------------


@pytest.fixture
def passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the passes of the pools created while the test runs."""
    counted = [0]
    real = _assignment.assign

    def counting(state: Any) -> list[Any]:
        with lock:
            counted[0] += 1
        return real(state)

    lock = threading.Lock()
    monkeypatch.setattr(_assignment, "assign", counting)
    return counted


def bound(pki: Pki, url: str) -> HttpRequest:
    return HttpRequest(
        "GET", url + "/api", downstream=True, deadline=None, tls_identity=pki.binding_a
    )


async def test_asyncio_callers_take_two_passes_per_request(
    pki: Pki, tls_server: TlsTestServer, passes: list[int]
) -> None:
    request = bound(pki, tls_server.url)
    callers, each = 40, 5

    async with HttpTransport(ca_bundle=pki.ca_bundle) as transport:

        async def caller() -> list[int]:
            return [(await transport.send_async(request)).status for _ in range(each)]

        statuses = await asyncio.gather(*(caller() for _ in range(callers)))
        pool = transport.async_client_for(pki.binding_a)._transport._pool  # type: ignore[attr-defined]
        connections = len(pool.connections)
    assert statuses == [[200] * each] * callers
    # one pass as each request enters the pool, one as its response is closed: no request ever
    # woke for a connection another one took (httpcore's own pass: several per request)
    assert passes[0] == 2 * callers * each
    assert 1 <= connections <= callers
    assert len(tls_server.seen) == callers * each


def test_threads_take_two_passes_per_request(
    pki: Pki, tls_server: TlsTestServer, passes: list[int]
) -> None:
    request = bound(pki, tls_server.url)
    threads, each = 12, 5
    with HttpTransport(ca_bundle=pki.ca_bundle) as transport, ThreadPoolExecutor(threads) as pool:
        statuses = list(
            pool.map(
                lambda _: [transport.send(request).status for _ in range(each)], range(threads)
            )
        )
    assert statuses == [[200] * each] * threads
    assert passes[0] == 2 * threads * each


@pytest.mark.parametrize("kind", [httpx.Client, httpx.AsyncClient])
@pytest.mark.parametrize("routed", [False, True], ids=["direct", "connect_to"])
def test_every_client_the_transport_makes_uses_the_pass(
    pki: Pki, kind: type[Any], routed: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")  # a proxy mount has a pool too
    connect_to = ConnectTo({"login.microsoftonline.com": "127.0.0.1"}) if routed else None
    with HttpTransport(ca_bundle=pki.ca_bundle, connect_to=connect_to) as transport:
        client = transport._new_client(kind, pki.binding_a, None)
        pools = [client._transport, *client._mounts.values()]
        pools = [getattr(t, "_inner", t)._pool for t in pools]
        # httpx reads the proxy variables only for a client without a transport of its own
        assert len(pools) == (1 if routed else 2)
        assert all(p._assign_requests_to_connections.__func__ is _assignment.assign for p in pools)


def test_a_pool_that_is_not_httpcore_1_0s_keeps_its_own_pass() -> None:
    class OwnPass(httpcore.AsyncConnectionPool):
        def _assign_requests_to_connections(self) -> list[Any]:
            return []

    pools = [
        SimpleNamespace(  # looks like one, is not one
            _http2=False,
            _connections=[],
            _requests=[],
            _max_connections=1,
            _max_keepalive_connections=1,
        ),
        httpcore.AsyncConnectionPool(http2=True),  # HTTP/2 connections serve many requests
        OwnPass(),
    ]
    client = SimpleNamespace(
        _transport=SimpleNamespace(_pool=pools[0]),
        _mounts={"all://a": SimpleNamespace(_pool=pools[1]), "all://b": None},
    )
    assert _assignment.install(client) == 0  # type: ignore[arg-type]  # a stand-in
    client = SimpleNamespace(_transport=SimpleNamespace(_pool=pools[2]), _mounts={})
    assert _assignment.install(client) == 0  # type: ignore[arg-type]
    assert "_assign_requests_to_connections" not in vars(pools[0]) | vars(pools[1]) | vars(pools[2])


async def test_a_slot_left_by_a_cancelled_request_is_reclaimed(
    pki: Pki, tls_server: TlsTestServer
) -> None:
    """One connection allowed: a waiting request is given a new connection (the server closed
    the first) and is cancelled before it starts; the next request still gets the slot. With
    httpcore's own pass it times out waiting for the pool (encode/httpcore#1093)."""
    context = ssl_context_for(pki.binding_a, ca_bundle=pki.ca_bundle)
    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(verify=context, limits=limits) as client:
        assert _assignment.install(client) == 1
        url = tls_server.url + "/api"
        tls_server.close_connections = True
        async with client.stream("GET", url) as first:
            waiting_task = asyncio.create_task(client.get(url))
            while not client._transport._pool._requests[1:]:  # type: ignore[attr-defined]
                await asyncio.sleep(0.001)
            await first.aread()
        waiting_task.cancel()  # given the new connection, not started on it yet
        with pytest.raises(asyncio.CancelledError):
            await waiting_task
        tls_server.close_connections = False
        answer = await client.get(url, timeout=httpx.Timeout(5.0, pool=2.0))
    assert answer.status_code == 200


def test_another_httpcore_release_keeps_its_own_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(httpcore, "__version__", "1.1.0")
    with httpx.Client() as client:
        assert _assignment.install(client) == 0
        assert "_assign_requests_to_connections" not in vars(client._transport._pool)  # type: ignore[attr-defined]
