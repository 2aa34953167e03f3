"""The client pool: one client per certificate under concurrency, LRU eviction, closing."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from tls_test_server import TlsTestServer
from transport_pki import Pki

from identity_web.protocol import HttpRequest
from identity_web.transport import ClientPool, HttpTransport
from identity_web.transport._pool import PoolClosedError


class Counting:
    """Replaces httpx.Client / AsyncClient with subclasses that count their creation."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.sync = 0
        self.async_ = 0
        self._lock = threading.Lock()
        counter = self

        class Client(httpx.Client):
            def __init__(self, **kwargs: Any) -> None:
                with counter._lock:
                    counter.sync += 1
                super().__init__(**kwargs)

        class AsyncClient(httpx.AsyncClient):
            def __init__(self, **kwargs: Any) -> None:
                with counter._lock:
                    counter.async_ += 1
                super().__init__(**kwargs)

        monkeypatch.setattr(httpx, "Client", Client)
        monkeypatch.setattr(httpx, "AsyncClient", AsyncClient)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> Counting:
    return Counting(monkeypatch)


def test_one_client_per_key_under_32_threads(
    pki: Pki, tls_server: TlsTestServer, counting: Counting
):
    barrier = threading.Barrier(32)
    seen: list[str | None] = []
    clients: set[int] = set()
    with HttpTransport(ca_bundle=pki.ca_bundle) as transport:

        def worker(index: int) -> None:
            binding = pki.binding_a if index % 2 else None
            barrier.wait()
            clients.add(id(transport.client_for(binding)))
            request = HttpRequest(
                "GET", tls_server.url + "/", tls_identity=binding, downstream=True
            )
            seen.append(transport.send(request).json()["client_x5t_s256"])

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert counting.sync == 2
    assert len(clients) == 2
    assert Counter(seen) == {pki.binding_a.x5t_s256: 16, None: 16}


async def test_one_async_client_per_key_under_32_tasks(
    pki: Pki, tls_server: TlsTestServer, counting: Counting
):
    async with HttpTransport(ca_bundle=pki.ca_bundle) as transport:

        async def task(index: int) -> str | None:
            binding = pki.binding_b if index % 2 else None
            await asyncio.sleep(0)
            request = HttpRequest(
                "GET", tls_server.url + "/", tls_identity=binding, downstream=True
            )
            response = await transport.send_async(request)
            return response.json()["client_x5t_s256"]

        seen = await asyncio.gather(*(task(i) for i in range(32)))
        same = {id(transport.async_client_for(pki.binding_b)) for _ in range(5)}
    assert counting.async_ == 2
    assert len(same) == 1
    assert Counter(seen) == {pki.binding_b.x5t_s256: 16, None: 16}


def test_api_calls_and_identity_traffic_never_share_a_client(
    pki: Pki, tls_server: TlsTestServer, counting: Counting
):
    """One certificate, two clients: a downstream call's pool never holds the token endpoint's
    idle connection, and an API's load never takes the connections a refresh needs."""
    with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        for downstream in (False, True, False, True):
            request = HttpRequest(
                "GET", tls_server.url + "/", tls_identity=pki.binding_a, downstream=downstream
            )
            assert transport.send(request).json()["client_x5t_s256"] == pki.binding_a.x5t_s256
        assert counting.sync == 2
        transport.client_for(pki.binding_a)  # the downstream one, already there
        assert counting.sync == 2


def test_lru_eviction_closes_the_least_recently_used_client(pki: Pki):
    transport = HttpTransport(ca_bundle=pki.ca_bundle, pool_size=2)
    plain = transport.client_for(None)
    a = transport.client_for(pki.binding_a)
    assert transport.client_for(None) is plain  # plain is now the most recently used
    b = transport.client_for(pki.binding_b)
    assert a.is_closed
    assert not plain.is_closed
    assert not b.is_closed
    assert transport.client_for(pki.binding_a) is not a
    transport.close()


def test_close_closes_every_client(pki: Pki):
    transport = HttpTransport(ca_bundle=pki.ca_bundle)
    clients = [transport.client_for(None), transport.client_for(pki.binding_a)]
    transport.close()
    assert all(client.is_closed for client in clients)
    with pytest.raises(PoolClosedError):  # nothing is opened after shutdown
        transport.client_for(None)
    transport.close()  # idempotent


async def test_evicted_and_closed_async_clients_are_closed(pki: Pki):
    transport = HttpTransport(ca_bundle=pki.ca_bundle, pool_size=1)
    first = transport.async_client_for(None)
    second = transport.async_client_for(pki.binding_a)
    await asyncio.sleep(0.01)
    assert first.is_closed
    assert not second.is_closed
    await transport.aclose()
    assert second.is_closed


def test_async_clients_are_closed_by_sync_close_on_an_idle_loop(pki: Pki):
    transport = HttpTransport(ca_bundle=pki.ca_bundle)
    loop = asyncio.new_event_loop()

    async def make() -> httpx.AsyncClient:
        return transport.async_client_for(None)

    client = loop.run_until_complete(make())
    transport.close()
    assert client.is_closed
    loop.close()


def test_async_clients_are_separate_per_event_loop(pki: Pki):
    transport = HttpTransport(ca_bundle=pki.ca_bundle)

    async def get() -> httpx.AsyncClient:
        return transport.async_client_for(None)

    first = asyncio.run(get())
    second = asyncio.run(get())
    assert first is not second
    transport.close()  # the first loops are closed: their clients are dropped, no error


class Closable:
    def __init__(self, name: str) -> None:
        self.name = name


def test_eviction_waits_for_leases_to_end():
    closed: list[str] = []
    pool: ClientPool[str, Closable] = ClientPool(1, lambda key, client: closed.append(client.name))
    with pool.lease("a", lambda: Closable("a")) as leased:
        pool.get("b", lambda: Closable("b"))
        assert closed == []  # "a" is evicted but still in use
        assert leased.name == "a"
    assert closed == ["a"]
    pool.get("c", lambda: Closable("c"))
    assert closed == ["a", "b"]


def test_pool_creates_once_even_when_creation_is_slow():
    created: list[int] = []
    pool: ClientPool[str, Closable] = ClientPool(4, lambda key, client: None)
    barrier = threading.Barrier(16)

    def create() -> Closable:
        created.append(1)
        threading.Event().wait(0.02)
        return Closable("x")

    results: list[Closable] = []

    def worker() -> None:
        barrier.wait()
        results.append(pool.get("k", create))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == 1
    assert all(result is results[0] for result in results)


def test_an_existing_client_is_leased_while_another_is_being_created():
    """The hot path takes no lock: a slow creation (which holds it) blocks no one else."""
    pool: ClientPool[str, Closable] = ClientPool(4, lambda key, client: None)
    pool.get("a", lambda: Closable("a"))
    creating, release = threading.Event(), threading.Event()

    def slow() -> Closable:
        creating.set()
        release.wait(5)
        return Closable("b")

    creator = threading.Thread(target=pool.get, args=("b", slow))
    creator.start()
    assert creating.wait(5)
    leased: list[str] = []
    reader = threading.Thread(target=lambda: leased.append(_lease_name(pool, "a")))
    reader.start()
    reader.join(2)
    finished_while_creating = not reader.is_alive()
    release.set()
    creator.join()
    reader.join()
    assert finished_while_creating
    assert leased == ["a"]


def _lease_name(pool: ClientPool[str, Closable], key: str) -> str:
    with pool.lease(key, lambda: Closable(key)) as client:
        return client.name


def test_racing_leases_and_evictions_close_every_client_once_and_never_in_use():
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible to provoke the races
    created: list[Tracked] = []
    pool: ClientPool[int, Tracked] = ClientPool(2, lambda key, client: client.close())

    def create(key: int) -> Tracked:
        client = Tracked()
        created.append(client)
        return client

    def worker(seed: int) -> None:
        for step in range(1500):
            key = (seed + step) % 5
            with pool.lease(key, lambda key=key: create(key)) as client:
                client.use()
                time.sleep(0)
                client.use()

    try:
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    remaining = pool.clear()
    for _, client in remaining:
        client.close()
    assert len(created) > 5  # evictions happened
    assert [client for client in created if client.closes != 1] == []
    assert sum(client.used_after_close for client in created) == 0
    assert len(remaining) == 2


class Tracked:
    def __init__(self) -> None:
        self.closes = 0
        self.used_after_close = 0

    def close(self) -> None:
        self.closes += 1

    def use(self) -> None:
        if self.closes:
            self.used_after_close += 1
