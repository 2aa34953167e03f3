"""`python -m bench --profile`: where our cache-hit path spends its time.

Two views of `AuthorizationHeaderProvider.create_authorization_header` on a cached token:
a breakdown by layer (each step timed on its own, µs per call) and cProfile's list of the
functions with the most own time.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from collections.abc import Callable
from typing import Any

from bench._params import Params
from bench._setup import API, BenchEnv
from bench._timing import time_sync
from identity_web.headers import header_information, prepare


def report(env: BenchEnv, params: Params) -> str:
    out = []
    with env.ours() as bearer, env.ours(mtls=True) as bound:
        for label, services in (("Bearer, client secret", bearer), ("mTLS PoP", bound)):
            out.append(f"== cache hit, {label} ==")
            out += breakdown(services, params.hit_calls)
            out.append(profile(services, params.hit_calls))
    return "\n".join(out)


def breakdown(services: Any, calls: int) -> list[str]:
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    acquirer = services.token_acquirer
    provider.create_authorization_header(options)
    scope, token_options, bound = prepare(options)
    result = acquirer.acquire_token_for_app(scope, token_options, bound=bound)
    steps: list[tuple[str, Callable[[], object]]] = [
        ("create_authorization_header (whole path)", lambda: provider.create_authorization_header(options)),
        ("  headers.prepare(options)", lambda: prepare(options)),
        ("  TokenAcquirer.acquire_token_for_app", lambda: acquirer.acquire_token_for_app(scope, token_options, bound=bound)),
        ("  headers.header_information(result)", lambda: header_information(result)),
        ("    AcquireTokenResult.authorization_header", lambda: result.authorization_header),
    ]
    lines = []
    for name, call in steps:
        timing = time_sync(call, calls, warmup=calls // 10)
        lines.append(f"{name:<48} p50 {timing.p50_us:6.2f} µs  mean {timing.mean_us:6.2f} µs")
    return lines


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
    stats.strip_dirs().sort_stats("tottime").print_stats(15)
    return stream.getvalue()
