"""A warm bound `DownstreamApi.call` adds few Python functions of ours to httpx's own: the cached
header, one request built once per header object (and one httpx request per client, sent again
as it is) through the pooled client's lock-free lease, no per-call option work. Sync and
asyncio, counted with `sys.setprofile` against the real stack over the emulator (mTLS PoP,
after one call filled the cache and the pool).

The telemetry hooks are left out of the count: whether they make spans depends on whether some
other test already set a tracer provider in this process (`test_e2e_telemetry.py`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import httpx
import pytest
from e2e_helpers import API, build, certificate_config

from identity_web import ServiceProvider
from identity_web.emulator import EmulatorManifest

#: Functions of `identity_web` entered per warm sync call, telemetry aside (32 before the
#: request was remembered per header object and the lease lost its context manager): 22 (21
#: async): 1 for the cached header, 3 for the emulator's routing of names
#: (`IDENTITY_WEB_CONNECT_TO`, absent in production), 1 for the cookie jar that keeps nothing
#: (it spares httpx parsing the response's headers for cookies), and 15 for the call step (two
#: resumptions), the driver, the pool's lease, the kept httpx request and the response. Then 2
#: for the connection pool's assignment pass (`transport._assignment`), which replaces
#: httpcore's own: one as the request enters the pool, one as its response is closed.
MAX_OURS = 22


@pytest.fixture
def services(manifest: EmulatorManifest) -> Iterator[ServiceProvider]:
    with build(certificate_config(manifest, ProtocolScheme="MTLS_POP"), manifest) as built:
        yield built


def _ours(entered: list[str]) -> list[str]:
    return [name for name in entered if "identity_web" in name and "_telemetry" not in name]


def _profiled() -> tuple[list[str], Callable[[FrameType, str, object], None]]:
    entered: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_filename != __file__:
            entered.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    return entered, profile


def test_a_warm_bound_call_enters_few_functions_of_ours(services: ServiceProvider) -> None:
    downstream = services.downstream_api
    for _ in range(2):
        assert downstream.call(API).status == 200
    entered, profile = _profiled()
    sys.setprofile(profile)
    try:
        response = downstream.call(API)
    finally:
        sys.setprofile(None)
    assert response.status == 200
    assert response.binding_certificate is not None
    ours = _ours(entered)
    assert len(ours) <= MAX_OURS, "\n".join(ours)


def test_a_warm_bound_async_call_enters_few_functions_of_ours(services: ServiceProvider) -> None:
    downstream = services.downstream_api

    async def warm_then_count() -> list[str]:
        for _ in range(2):
            assert (await downstream.call_async(API)).status == 200
        entered, profile = _profiled()
        sys.setprofile(profile)
        try:
            response = await downstream.call_async(API)
        finally:
            sys.setprofile(None)
        assert response.status == 200
        await services.aclose()  # its async clients belong to this loop
        # a coroutine frame is entered again at each resumption: count distinct frames once
        return list(dict.fromkeys(entered))

    ours = _ours(asyncio.run(warm_then_count()))
    assert len(ours) <= MAX_OURS, "\n".join(ours)


def test_warm_calls_send_the_httpx_request_built_before(
    services: ServiceProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    downstream = services.downstream_api
    for _ in range(2):  # the token, then the request remembered for the cached header
        assert downstream.call(API).status == 200
    built: list[str] = []

    def counting(original: Callable[..., httpx.Request]) -> Callable[..., httpx.Request]:
        def build_request(self: object, method: str, url: object, **kwargs: object) -> Any:
            built.append(str(url))
            return original(self, method, url, **kwargs)

        return build_request

    monkeypatch.setattr(httpx.Client, "build_request", counting(httpx.Client.build_request))
    monkeypatch.setattr(
        httpx.AsyncClient, "build_request", counting(httpx.AsyncClient.build_request)
    )

    async def calls() -> None:
        for _ in range(3):
            assert (await downstream.call_async(API)).status == 200
        await services.aclose()  # its async clients belong to this loop

    for _ in range(3):
        assert downstream.call(API).status == 200
    assert built == []  # sent as the second call built it
    asyncio.run(calls())
    assert len(built) == 1  # once for the async client, then sent as it was
