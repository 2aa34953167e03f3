"""7. A cold fleet: N processes x T threads ask for one app token at once; token requests are
counted at the emulator.

Ours with a Redis `TokenCache` (one request for the whole fleet: the in-process single-flight
elects one caller per process, the per-key Redis lock one process), ours with the default
memory cache (one request per process), and MSAL Python (its own cache per app object; each
thread that misses sends its own request). Every process is a fresh interpreter started before
the clock, and all begin at one instant; the token endpoint answers after `sts_delay_ms`, as a
loaded identity provider would, so the callers really overlap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Label
from bench._setup import BenchEnv
from bench.distributed_cache import redis_server

NAME = "fleet"
TITLE = "7. cold fleet: processes x threads on one cold key (token requests at the emulator)"
COLUMNS = (
    Column("token_requests", "token requests", 0),
    Column("processes", "processes", 0),
    Column("threads", "threads each", 0),
    Column("seconds", "s to the last token", 2),
)
WITH_REDIS = "cold fleet, Redis TokenCache"
WITHOUT_REDIS = "cold fleet, memory cache"


def run(env: BenchEnv, params: Params) -> BenchResult:
    meaning = "<1 means ours sends fewer token requests"
    result = BenchResult(NAME, TITLE, COLUMNS, ratio_metric="token_requests", ratio_meaning=meaning)
    processes, threads = (2, 4) if params.quick else (8, 16)
    with redis_server() as url:
        redis_config = {
            **env.secret_config(),
            "TokenCache": {"Type": "Redis", "ConnectionString": url},
        }
        runs = [
            (
                Label(WITH_REDIS, "identity-web + Redis", OURS),
                {"impl": "ours", "config": redis_config},
            ),
            (
                Label(WITHOUT_REDIS, "identity-web", OURS),
                {"impl": "ours", "config": env.secret_config()},
            ),
            (Label(WITH_REDIS, "msal (per-process cache)", PEER), _msal(env)),
        ]
        for label, worker in runs:
            requests, seconds = _cold_fleet(env, params, worker, processes, threads)
            metrics = {"token_requests": requests, "processes": processes, "threads": threads}
            result.add(label.row({**metrics, "seconds": round(seconds, 3)}))
    msal_row = result.rows[-1]
    result.add(Label(WITHOUT_REDIS, msal_row.impl, PEER).row(dict(msal_row.metrics)))
    result.compute_ratios()
    result.notes.append(
        f"{processes} processes x {threads} threads, one cold key, the token endpoint slowed "
        f"by {params.sts_delay_ms} ms; MSAL Python has no distributed cache, so both cases "
        "compare with its one run; every process builds its client (and its TLS set-up) "
        "before the start"
    )
    return result


def _msal(env: BenchEnv) -> dict[str, Any]:
    manifest, app = env.manifest, env.manifest.apps[0]
    return {
        "impl": "msal",
        "client_id": app.client_id,
        "client_secret": app.client_secret,
        "authority": f"{manifest.instance}{manifest.tenant_id}",
    }


def _cold_fleet(
    env: BenchEnv, params: Params, worker: dict[str, Any], processes: int, threads: int
) -> tuple[int, float]:
    """(token requests the fleet sent, seconds from the start to the last process's token)."""
    before = env.token_requests()
    env.slow_token_endpoint(params.sts_delay_ms, processes * threads)
    arguments = {**worker, "threads": threads, "scope": env.scope, "environ": env.manifest.env()}
    arguments["start"] = time.time() + (3.0 if params.quick else 6.0)
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "bench._fleet_worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **env.manifest.env()},
        )
        for _ in range(processes)
    ]
    for child in children:  # the secret goes through a pipe, never the command line
        assert child.stdin is not None
        child.stdin.write(json.dumps(arguments))
        child.stdin.close()
    outputs = [_output(child) for child in children]
    env.emulator.clear_faults()
    if any(child.returncode != 0 for child in children):
        raise RuntimeError(f"a fleet worker failed: {outputs}")
    seconds = max(json.loads(output)["seconds"] for output in outputs)
    return env.token_requests() - before, seconds


def _output(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    output = child.stdout.read()
    child.wait(120)
    return output
