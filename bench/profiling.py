"""`python -m bench --profile`: where our time goes, layer by layer.

Cache hit: `AuthorizationHeaderProvider.create_authorization_header` on a cached token, each
step timed on its own (µs per call), then cProfile's functions with the most own time.
Downstream: `DownstreamApi.call` against the transport and httpx beneath it, interleaved, so
the difference between two lines is what that layer adds to a real round trip.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import time
from collections.abc import Callable
from typing import Any

from bench._params import Params
from bench._setup import API, BenchEnv
from bench._timing import measure_allocations, time_interleaved
from bench.downstream import RawClient
from identity_web.acquisition import header_information, prepare
from identity_web.protocol._http import HttpRequest
from identity_web.transport import ssl_context_for


def report(env: BenchEnv, params: Params) -> str:
    out = []
    with env.ours() as bearer, env.ours(mtls=True) as bound:
        for label, services in (("Bearer, client secret", bearer), ("mTLS PoP", bound)):
            out.append(f"== cache hit, {label}: each step on its own ==")
            out += _lines(hit_steps(services), params.hit_calls, allocations=True)
            out.append(f"== cache hit, {label}: cProfile, by own time ==")
            out.append(profile(services, params.hit_calls))
        out.append("== downstream GET /whoami over mTLS: layers, interleaved ==")
        out += _lines(downstream_steps(env, bound), params.downstream_calls)
        out.append("== downstream: client-thread CPU per call (time.thread_time), interleaved ==")
        out += _cpu_lines(downstream_steps(env, bound), params.downstream_calls)
    return "\n".join(out)


def hit_steps(services: Any) -> list[tuple[str, Callable[[], object]]]:
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    acquirer = services.token_acquirer
    provider.create_authorization_header(options)
    scope, token_options, bound = prepare(options)
    result = acquirer.acquire_token_for_app(scope, token_options, bound=bound)
    remembered: dict[int, tuple[object, object]] = {}

    def memoized() -> object:
        """What-if: the hit with the header information remembered per cached result."""
        scope, token_options, bound = prepare(options)
        current = acquirer.acquire_token_for_app(scope, token_options, bound=bound)
        known = remembered.get(id(current))
        if known is None or known[0] is not current:
            known = remembered[id(current)] = (current, header_information(current))
        return known[1]

    return [
        (
            "create_authorization_header (the whole hit)",
            lambda: provider.create_authorization_header(options),
        ),
        ("  headers.prepare(options)", lambda: prepare(options)),
        (
            "  TokenAcquirer.acquire_token_for_app",
            lambda: acquirer.acquire_token_for_app(scope, token_options, bound=bound),
        ),
        ("  headers.header_information(result)", lambda: header_information(result)),
        ("    AcquireTokenResult.authorization_header", lambda: result.authorization_header),
        ("what-if: header information remembered per result", memoized),
    ]


def downstream_steps(env: BenchEnv, services: Any) -> list[tuple[str, Callable[[], object]]]:
    downstream = services.downstream_api
    info = services.authorization_header_provider.create_authorization_header(
        downstream.options(API)
    )
    headers = {"Accept": "application/json", "Authorization": info.header_value}
    binding = info.binding_certificate
    request = HttpRequest("GET", env.whoami_url, headers=headers, tls_identity=binding)
    transport = services.container.transport()
    client = transport.client_for(binding)
    context = ssl_context_for(binding, ca_bundle=env.manifest.ca_bundle)  # ours, the same one
    raw = RawClient(env, info.header_value, context)
    return [
        ("DownstreamApi.call", lambda: downstream.call(API)),
        ("  HttpTransport.send(HttpRequest)", lambda: transport.send(request)),
        ("    pooled httpx client .get", lambda: client.get(env.whoami_url, headers=headers)),
        ("raw httpx floor .get", raw.reused),
    ]


def _lines(
    steps: list[tuple[str, Callable[[], object]]], calls: int, *, allocations: bool = False
) -> list[str]:
    timings = time_interleaved([(call, calls) for _, call in steps])
    lines = []
    for (name, call), t in zip(steps, timings, strict=True):
        line = f"{name:<52} p50 {t.p50_us:8.2f} µs  mean {t.mean_us:8.2f} µs"
        if allocations:
            kept = measure_allocations(call, 1_000).retained_bytes
            line += f"  kept {kept:6.0f} B/call"
        lines.append(line)
    return lines


def _cpu_lines(
    steps: list[tuple[str, Callable[[], object]]], calls: int, rounds: int = 5
) -> list[str]:
    """CPU time of this thread per call: the client's own work, without waiting for the server."""
    spent = [0] * len(steps)
    per_round = max(1, calls // rounds)
    for _ in range(rounds):
        for index, (_, call) in enumerate(steps):
            started = time.thread_time_ns()
            for _ in range(per_round):
                call()
            spent[index] += time.thread_time_ns() - started
    total = per_round * rounds
    return [
        f"{name:<52} {ns / total / 1000:8.0f} µs CPU/call"
        for (name, _), ns in zip(steps, spent, strict=True)
    ]


def profile(services: Any, calls: int) -> str:
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    provider.create_authorization_header(options)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(calls):
        provider.create_authorization_header(options)
    profiler.disable()
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.strip_dirs().sort_stats("tottime").print_stats(12)
    return stream.getvalue()
