"""`python -m bench [--quick] [--json [PATH]] [--only NAME ...] [--profile]`."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench import (
    cache_hit,
    cold,
    cold_mi_key,
    cold_paths,
    concurrency,
    distributed_cache,
    downstream,
    fleet,
    import_cost,
    memory,
    resource_validation,
)
from bench._params import DEFAULT, QUICK, Params
from bench._report import BenchResult
from bench._setup import BenchEnv, bench_env

Runner = Callable[[BenchEnv, Params], BenchResult]

BENCHMARKS: dict[str, Runner] = {
    import_cost.NAME: import_cost.run,
    cache_hit.NAME: cache_hit.run,
    cold.NAME: cold.run,
    concurrency.NAME: concurrency.run,
    downstream.NAME: downstream.run,
    memory.NAME: memory.run,
    cold_paths.NAME: cold_paths.run,
    cold_mi_key.NAME: cold_mi_key.run,
    distributed_cache.NAME: distributed_cache.run,
    fleet.NAME: fleet.run,
    resource_validation.NAME: resource_validation.run,
}

STDOUT = "-"
DEFAULT_JSON = "bench-results/results.json"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="identity-web side by side with MSAL Python, azure-identity and raw httpx, "
        "against the emulator and an nginx resource server, each in its own process, over "
        "real TLS.",
    )
    parser.add_argument("--quick", action="store_true", help="a few iterations (smoke test)")
    parser.add_argument(
        "--json",
        nargs="?",
        const=STDOUT,
        metavar="PATH",
        help="write the results as JSON to PATH (no PATH: to stdout, tables go to stderr)",
    )
    parser.add_argument(
        "--only", action="append", choices=sorted(BENCHMARKS), help="run only these benchmarks"
    )
    parser.add_argument(
        "--plot",
        action="store_true",
        help=f"write PNG charts next to the JSON (default JSON: {DEFAULT_JSON})",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the benchmarks, cProfile our cache-hit path and print the hot spots",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    params = QUICK if args.quick else DEFAULT
    tables = sys.stderr if args.json == STDOUT else sys.stdout
    if args.profile:
        from bench import profiling  # noqa: PLC0415 - only this mode needs it

        with bench_env() as env:
            print(profiling.report(env, params), file=tables)
        return 0
    names = args.only or list(BENCHMARKS)
    started = time.perf_counter()
    results = []
    with bench_env() as env:
        resource_server = env.resource.server
        for name in names:
            began = time.perf_counter()
            result = BENCHMARKS[name](env, params)
            result.notes.append(env.servers_note)
            results.append(result)
            print(result.table(), file=tables)
            print(f"({name}: {time.perf_counter() - began:.1f} s)\n", file=tables, flush=True)
    document = {
        "meta": {
            **meta(params, argv, time.perf_counter() - started),
            "resource_server": resource_server,
        },
        "benchmarks": [r.to_json() for r in results],
    }
    target = args.json if args.json else (DEFAULT_JSON if args.plot else None)
    if target == STDOUT:
        json.dump(document, sys.stdout, indent=2)
        sys.stdout.write("\n")
    elif target:
        Path(target).parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
    if args.plot:
        from bench.plot import write_charts  # noqa: PLC0415 - matplotlib only for --plot

        directory = Path(target).parent if target and target != STDOUT else Path(".")
        for path in write_charts(document, directory):
            print(f"chart: {path}", file=tables)
    return 0


def meta(params: Params, argv: Sequence[str] | None, seconds: float) -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for package in ("identity-web", "msal", "azure-identity", "azure-core", "httpx", "requests"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    arguments = list(sys.argv[1:] if argv is None else argv)
    return {
        "command": " ".join(["python -m bench", *arguments]),
        "quick": params.quick,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "versions": versions,
        "seconds": round(seconds, 1),
    }
