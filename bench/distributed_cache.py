"""6. The Redis token cache: a token from L1 (memory before Redis) and from L2 only (Redis).

Ours: `TokenAcquirer.acquire_token_for_app(scope)` for a cached Bearer token, configured with
`TokenCache: {Type: Redis, ...}` against a redis-server this benchmark starts on loopback —
once with the L1 (a hit is a dictionary lookup, Redis is not asked) and once with
`DisableL1Cache` (every call is one Redis GET, decoded, optionally AES-GCM opened). Peer:
MSAL Python's `acquire_token_for_client` answered from its in-memory cache, in the same run.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench import cache_hit
from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Label, Row
from bench._setup import BenchEnv
from bench._timing import time_interleaved_counting

NAME = "distributed_cache"
TITLE = "6. Redis token cache: L1 hit and L2-only hit (loopback redis-server)"
L1 = "L1 hit (Redis configured)"
L2 = "L2-only hit (DisableL1Cache)"
L2_SEALED = "L2-only hit, Encrypt (AES-GCM)"
BENCH_KEY = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="  # a fixed AES-256 key, bench only

#: cache_hit's timing columns and request count (no allocation columns here).
COLUMNS = tuple(
    c for c in cache_hit.COLUMNS if c.key in {"ops_per_s", "p50_us", "p99_us", "token_requests"}
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    meaning = ">1 means ours answers more calls per second"
    result = BenchResult(NAME, TITLE, COLUMNS, ratio_metric="ops_per_s", ratio_meaning=meaning)
    with redis_server() as url, contextlib.ExitStack() as stack:
        section = {"Type": "Redis", "ConnectionString": url}
        sealed = {"Encrypt": True, "EncryptionKey": BENCH_KEY, "KeyPrefix": "bench-sealed"}
        variants = {
            L1: section,
            L2: {**section, "DisableL1Cache": True},
            L2_SEALED: {**section, "DisableL1Cache": True, **sealed},
        }
        calls: dict[Label, Callable[[], object]] = {}
        for case, options in variants.items():
            services = stack.enter_context(_ours(env, options))
            calls[Label(case, "identity-web", OURS)] = _token_call(services, env.scope)
        msal_call = _msal_call(env)
        calls[Label(L1, "msal (its memory cache)", PEER)] = msal_call
        timed = time_interleaved_counting(
            [(call, params.hit_calls // 4) for call in calls.values()], env.token_requests
        )
        rows = [
            label.row({**timing.metrics(), "token_requests": requests})
            for (label, _), (timing, requests) in zip(calls.items(), timed, strict=True)
        ]
        result.rows += rows
        msal_row = rows[-1]
        for case in (L2, L2_SEALED):
            result.add(Row(case, msal_row.impl, PEER, dict(msal_row.metrics)))
    result.compute_ratios()
    result.notes.append(
        "each identity-web row is a separately built factory sharing one redis-server; "
        "MSAL Python has no distributed cache of its own, so every case compares with its "
        "in-memory hit, timed in the same alternating rounds"
    )
    return result


def _ours(env: BenchEnv, section: dict[str, Any]) -> Any:
    config = env.secret_config()
    config["TokenCache"] = section
    return env.build(config)


def _token_call(services: Any, scope: str) -> Callable[[], object]:
    acquirer = services.token_acquirer
    acquirer.acquire_token_for_app(scope)  # the first call fills L1 and Redis

    def call() -> object:
        return acquirer.acquire_token_for_app(scope)

    return call


def _msal_call(env: BenchEnv) -> Callable[[], object]:
    app, scopes = env.msal_app(), [env.scope]
    app.acquire_token_for_client(scopes)

    def call() -> object:
        return app.acquire_token_for_client(scopes)

    return call


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on a free loopback port (nothing saved); its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed (./run bench installs it)")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as directory:
        arguments = ["--bind", "127.0.0.1", "--port", str(port), "--save", "", "--dir", directory]
        process = subprocess.Popen(
            [binary, *arguments], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for(port)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.kill()
            process.wait()


def _wait_for(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise RuntimeError(f"redis-server did not listen on port {port}")
