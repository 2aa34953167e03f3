"""4. Downstream calls over mTLS: `DownstreamApi.call` with MTLS_POP against raw httpx.

The floor is what a careful hand-written client does: the same `ssl.SSLContext` as ours (the
one our transport made for the certificate), one `httpx.Client` (or `httpx.AsyncClient`) reused
for every call with the same pool limits as ours (`DEFAULT_LIMITS`: 100 connections, all kept
alive), and the same cached `mtls_pop` header as a static dict. The naive variant builds
a new context and client (so a new TLS handshake) on every call, which is what pooling per
binding thumbprint saves. With asyncio callers a third row runs the floor on a pool with the
assignment pass our clients use (docs/transport.md), so the two pools work alike. All call
`GET /whoami` on the resource server in its own process (nginx when installed: a static 200
over TLS with a client certificate, keep-alive).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Row
from bench._setup import API, BenchEnv
from bench._timing import Timing, time_async_concurrent, time_interleaved, time_threads
from identity_web.transport import _assignment, ssl_context_for
from identity_web.transport._transport import DEFAULT_LIMITS

NAME = "downstream"
TITLE = "4. downstream calls over mTLS (MTLS_POP, cached token): GET /whoami"
OURS_IMPL = "identity-web DownstreamApi.call, certificate"
FLOOR = "httpx, same SSLContext and pool limits, one client (floor)"
NAIVE = "httpx, new context+client per call"
#: The asyncio floor again, with the pool assignment pass our clients use
#: (`identity_web.transport._assignment`): what ours costs above httpx once both pools work alike.
PASSED = "httpx, as the floor, with identity-web's pool assignment pass (reference)"
IMPLS = ((OURS_IMPL, OURS), (FLOOR, PEER), (NAIVE, PEER))
ASYNC_IMPLS = ((OURS_IMPL, OURS), (FLOOR, PEER), (PASSED, PEER))

COLUMNS = (
    Column("ops_per_s", "req/s", 0),
    Column("p50_us", "p50 µs", 0),
    Column("p99_us", "p99 µs", 0),
    Column("n", "calls", 0),
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="ops_per_s",
        ratio_meaning=">1 means ours completes more requests per second (target: >= 0.95 "
        "of the floor)",
    )
    with env.ours(mtls=True) as services:
        ours = _ours(services)
        info = services.authorization_header_provider.create_authorization_header(
            services.downstream_api.options(API)
        )
        context = ssl_context_for(info.binding_certificate, ca_bundle=env.manifest.ca_bundle)
        raw = RawClient(env, info.header_value, context)
        try:
            _sequential(result, params, ours, raw)
            _threaded(result, params, ours, raw)
            asyncio.run(_concurrent(result, params, services, raw))
        finally:
            raw.close()
    result.compute_ratios()
    return result


def _sequential(result: BenchResult, params: Params, ours: Any, raw: RawClient) -> None:
    case = "sequential"
    calls = [
        (ours, params.downstream_calls),
        (raw.reused, params.downstream_calls),
        (raw.naive, params.naive_calls),
    ]
    timings = time_interleaved(calls, rounds=10)
    for (impl, role), timing in zip(IMPLS, timings, strict=True):
        _add(result, case, impl, role, timing)


def _threaded(result: BenchResult, params: Params, ours: Any, raw: RawClient) -> None:
    threads, per_thread = params.downstream_threads, params.per_thread_calls
    calls = [(ours, per_thread), (raw.reused, per_thread), (raw.naive, max(3, per_thread // 5))]
    timings = time_threads(calls, threads, rounds=10)
    for (impl, role), timing in zip(IMPLS, timings, strict=True):
        _add(result, f"{threads} threads", impl, role, timing)


async def _concurrent(result: BenchResult, params: Params, services: Any, raw: RawClient) -> None:
    callers, per_caller = params.async_callers, params.per_caller_calls
    downstream = services.downstream_api

    async def ours() -> object:
        response = await downstream.call_async(API)
        if response.status != 200:
            raise RuntimeError(f"identity-web call answered {response.status}")
        return response

    async with raw.async_client() as floor, raw.async_client(assignment=True) as passed:
        await ours()
        await floor()
        await passed()
        calls = [ours, floor, passed]
        timings = await time_async_concurrent(calls, callers, per_caller, rounds=6)
    for (impl, role), timing in zip(ASYNC_IMPLS, timings, strict=True):
        _add(result, f"{callers} asyncio callers", impl, role, timing)


def _add(result: BenchResult, case: str, impl: str, role: str, timing: Timing) -> None:
    result.add(Row(case, impl, role, timing.metrics()))


def _ours(services: Any) -> Callable[[], object]:
    downstream = services.downstream_api

    def call() -> object:
        response = downstream.call(API)
        if response.status != 200:
            raise RuntimeError(f"identity-web call answered {response.status}")
        return response

    call()
    return call


class RawClient:
    """httpx by hand: the same SSLContext, URL and header, a static header dict."""

    def __init__(self, env: BenchEnv, header: str, context: ssl.SSLContext) -> None:
        app = env.manifest.apps[0]
        if app.certificate_pem_path is None:
            raise RuntimeError("the emulator's demo app has no certificate")
        self._pem = app.certificate_pem_path
        self._ca = env.manifest.ca_bundle
        self._url = env.whoami_url
        self._headers = {"Authorization": header, "Accept": "application/json"}
        self._context = context
        self._client = httpx.Client(verify=context, limits=DEFAULT_LIMITS)

    def _new_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self._ca)
        context.load_cert_chain(self._pem)
        return context

    def reused(self) -> object:
        return _checked(self._client.get(self._url, headers=self._headers))

    def naive(self) -> object:
        with httpx.Client(verify=self._new_context()) as client:
            return _checked(client.get(self._url, headers=self._headers))

    def async_client(self, *, assignment: bool = False) -> _AsyncFloor:
        """The asyncio floor; with `assignment`, its pool runs our assignment pass."""
        client = httpx.AsyncClient(verify=self._context, limits=DEFAULT_LIMITS)
        if assignment:
            _assignment.install(client)
        return _AsyncFloor(client, self._url, self._headers)

    def close(self) -> None:
        self._client.close()


class _AsyncFloor:
    """The asyncio floor: one `httpx.AsyncClient`, the same context and header; awaitable call."""

    def __init__(self, client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self._client, self._url, self._headers = client, url, headers

    async def __call__(self) -> object:
        return _checked(await self._client.get(self._url, headers=self._headers))

    async def __aenter__(self) -> Callable[[], Awaitable[object]]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._client.aclose()


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise RuntimeError(f"raw httpx call answered {response.status_code}")
    return response
