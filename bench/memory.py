"""5. Memory per cached token: our `InMemoryTokenCache` against MSAL's `TokenCache`.

Entries go in through each library's public cache API (ours: `InMemoryTokenCache.set` with
the `CacheKey`/`CacheEntry` the acquirer stores; MSAL: `TokenCache.add` with the event its
client-credentials flow records), one distinct scope each — acquiring 10,000 tokens over the
network would measure the emulator, not the caches. azure-identity stores its tokens in the
same `msal.TokenCache`, so the MSAL row stands for it too. Each figure comes from a fresh
interpreter (`bench._memory_worker`): tracemalloc in one, RSS without tracemalloc in another.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Row
from bench._setup import BenchEnv

NAME = "memory"
TITLE = "5. memory per cached token (distinct scopes)"
IMPLS = (("ours", "identity-web InMemoryTokenCache", OURS), ("msal", "msal TokenCache", PEER))
PROJECT_ROOT = Path(__file__).resolve().parent.parent

COLUMNS = (
    Column("entries", "entries", 0),
    Column("bytes_per_entry", "B/entry (tracemalloc)", 0),
    Column("blocks_per_entry", "blocks/entry", 1),
    Column("rss_bytes_per_entry", "RSS B/entry", 0),
    Column("insert_us", "µs/insert", 1),
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="bytes_per_entry",
        ratio_meaning="<1 means ours keeps less memory per token",
    )
    length = _token_length(env)
    case = f"{params.memory_entries:,} tokens"
    for impl, label, role in IMPLS:
        traced = _worker(impl, "tracemalloc", params.memory_entries, length)
        rss = _worker(impl, "rss", params.memory_entries, length)
        entries = traced["entries"]
        metrics = {
            "entries": entries,
            "bytes_per_entry": traced["bytes"] / entries,
            "blocks_per_entry": traced["blocks"] / entries,
            "rss_bytes_per_entry": rss["rss_bytes"] / entries,
            "insert_us": rss["insert_us"],
        }
        result.add(Row(case, label, role, metrics))
    result.compute_ratios()
    result.notes.append(
        f"tokens are {length} characters (the emulator's); they exist before measuring and both "
        "caches keep references to them, so the figures are each cache's cost on top of the "
        f"token (~{length + 49} B as a str); azure-identity uses msal.TokenCache"
    )
    result.notes.append(
        "µs/insert: our set() vs MSAL's add() (which also JSON-encodes each event for its "
        "debug log); RSS figures are page-granular and noisier than tracemalloc"
    )
    return result


def _token_length(env: BenchEnv) -> int:
    result = env.msal_app().acquire_token_for_client([env.scope])
    return len(result["access_token"])


def _worker(impl: str, mode: str, entries: int, length: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench._memory_worker", impl, mode, str(entries), str(length)]
    completed = subprocess.run(
        command, cwd=PROJECT_ROOT, capture_output=True, text=True, check=False, timeout=300
    )
    if completed.returncode != 0:
        raise RuntimeError(f"memory worker {impl}/{mode} failed:\n{completed.stderr[-2000:]}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))
