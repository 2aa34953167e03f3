"""The TLS listeners hold at least 100 concurrent keep-alive connections."""

from __future__ import annotations

import asyncio

import emulator_testkit as kit
import httpx

from identity_web.emulator import Emulator

CONNECTIONS = 120


async def test_many_concurrent_keep_alive_connections(emulator: Emulator) -> None:
    token = emulator.state.mint_access_token(
        client_id=emulator.demo_app.client_id,
        object_id=emulator.demo_app.object_id,
        audience=emulator.manifest.resource.scope.removesuffix("/.default"),
        appidacr="1",
    )
    context = kit.ssl_context(emulator)
    clients = [httpx.AsyncClient(verify=context, timeout=30) for _ in range(CONNECTIONS)]
    url = emulator.manifest.resource.base_url + "whoami"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        first = await asyncio.gather(*(c.get(url, headers=headers) for c in clients))
        assert emulator.open_connections()["resource"] >= CONNECTIONS
        # Every connection is still open (keep-alive): a second round reuses them all.
        second = await asyncio.gather(*(c.get(url, headers=headers) for c in clients))
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
    assert [r.status_code for r in first + second] == [200] * (2 * CONNECTIONS)
    assert all(r.http_version == "HTTP/1.1" for r in first)
    assert len(emulator.requests("resource")) == 2 * CONNECTIONS


def test_one_connection_serves_many_requests(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        responses = [http.get(emulator.manifest.instance + "_emulator/faults") for _ in range(50)]
    assert {r.status_code for r in responses} == {200}
