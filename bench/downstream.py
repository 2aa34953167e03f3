"""4. Downstream calls over mTLS: `DownstreamApi.call` with MTLS_POP against raw httpx.

The floor is what a careful hand-written client does: one `ssl.SSLContext` with the client
certificate, one `httpx.Client`, reused for every call, the same cached `mtls_pop` header.
The naive variant builds a new context and client (so a new TLS handshake) on every call, which
is what pooling per binding thumbprint saves. All call the emulator's resource API `GET /whoami`,
which checks the token's `cnf` against the presented certificate.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import httpx

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Row
from bench._setup import API, BenchEnv
from bench._timing import Timing, time_interleaved, time_threads

NAME = "downstream"
TITLE = "4. downstream calls over mTLS (MTLS_POP, cached token): GET /whoami"
OURS_IMPL = "identity-web DownstreamApi.call"
FLOOR = "httpx, one context+client (floor)"
NAIVE = "httpx, new context+client per call"
IMPLS = ((OURS_IMPL, OURS), (FLOOR, PEER), (NAIVE, PEER))

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
        ratio_meaning=">1 means ours completes more requests per second",
    )
    with env.ours(mtls=True) as services:
        ours = _ours(services)
        header = services.authorization_header_provider.create_authorization_header(
            services.downstream_api.options(API)
        ).header_value
        raw = RawClient(env, header)
        try:
            _sequential(result, params, ours, raw)
            _threaded(result, params, ours, raw)
        finally:
            raw.close()
    result.compute_ratios()
    result.notes.append(
        "the resource server runs in this process (it validates every token's signature and "
        "cnf), so it shares the GIL and the 2 cores with the clients"
    )
    return result


def _sequential(result: BenchResult, params: Params, ours: Any, raw: RawClient) -> None:
    case = "sequential"
    calls = [
        (ours, params.downstream_calls),
        (raw.reused, params.downstream_calls),
        (raw.naive, params.naive_calls),
    ]
    timings = time_interleaved(calls)
    for (impl, role), timing in zip(IMPLS, timings, strict=True):
        _add(result, case, impl, role, timing)


def _threaded(result: BenchResult, params: Params, ours: Any, raw: RawClient) -> None:
    threads, per_thread = params.downstream_threads, params.per_thread_calls
    calls = [(ours, per_thread), (raw.reused, per_thread), (raw.naive, max(3, per_thread // 5))]
    timings = time_threads(calls, threads, rounds=5)
    for (impl, role), timing in zip(IMPLS, timings, strict=True):
        _add(result, f"{threads} threads", impl, role, timing)


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
    """httpx by hand: the same certificate (PEM file), CA bundle, URL and header."""

    def __init__(self, env: BenchEnv, header: str) -> None:
        app = env.manifest.apps[0]
        if app.certificate_pem_path is None:
            raise RuntimeError("the emulator's demo app has no certificate")
        self._pem = app.certificate_pem_path
        self._ca = env.manifest.ca_bundle
        self._url = env.whoami_url
        self._headers = {"Authorization": header}
        self._client = httpx.Client(verify=self._context())

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self._ca)
        context.load_cert_chain(self._pem)
        return context

    def reused(self) -> object:
        return _checked(self._client.get(self._url, headers=self._headers))

    def naive(self) -> object:
        with httpx.Client(verify=self._context()) as client:
            return _checked(client.get(self._url, headers=self._headers))

    def close(self) -> None:
        self._client.close()


def _checked(response: httpx.Response) -> httpx.Response:
    if response.status_code != 200:
        raise RuntimeError(f"raw httpx call answered {response.status_code}")
    return response
