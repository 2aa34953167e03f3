"""`python -m bench.soak [--minutes 10] [--json PATH]`: a long run, watching for leaks.

Mixed calls over the three credential sources with mTLS PoP (certificate, managed identity
IMDS v2, FIC with managed identity), against the emulator and nginx in their own processes on
loopback: mostly cached (`DownstreamApi.call` with a cached token), and every `--cold-every`th
call per source after emptying the token cache (a token request). Every minute it prints the
process's RSS, open file descriptors and sockets; after warm-up they should stay flat. Not part
of `./run test`: it runs for minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any

from bench._servers import servers
from bench._setup import API, BenchEnv, our_cache
from bench.cold_paths import _fic, managed_identity_config


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="how long (default 10)")
    parser.add_argument("--interval", type=float, default=60.0, help="seconds between reports")
    parser.add_argument("--cold-every", type=int, default=200, help="one cold call in N")
    parser.add_argument("--json", metavar="PATH", help="also write the samples as JSON")
    return parser.parse_args(argv)


def resources() -> dict[str, int]:
    """RSS (bytes), open file descriptors and sockets of this process (Linux /proc)."""
    rss = 0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    descriptors = os.listdir("/proc/self/fd")
    sockets = 0
    for fd in descriptors:
        try:
            sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
        except OSError:
            continue
    return {"rss_bytes": rss, "open_fds": len(descriptors), "sockets": sockets}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    samples: list[dict[str, Any]] = []
    with servers() as (emulator, resource, manifest), ExitStack() as stack:
        env = BenchEnv(emulator, resource, manifest)
        sources = {
            "certificate": stack.enter_context(env.ours(mtls=True)),
            "managed identity": stack.enter_context(env.build(managed_identity_config(env))),
            "FIC": stack.enter_context(env.build(_fic(env))),
        }
        print(f"soak: {args.minutes:g} min, resource = {resource.server}", flush=True)
        started = time.monotonic()
        deadline = started + args.minutes * 60
        next_report = started
        calls = cold = failures = 0
        while True:
            now = time.monotonic()
            if now >= next_report:
                sample = {
                    "minute": round((now - started) / 60, 2),
                    "calls": calls,
                    "cold": cold,
                    "failures": failures,
                    **resources(),
                }
                samples.append(sample)
                print(json.dumps(sample), flush=True)
                next_report += args.interval
            if now >= deadline:
                break
            for services in sources.values():
                calls += 1
                if calls % args.cold_every < len(sources):
                    our_cache(services).clear()
                    cold += 1
                if services.downstream_api.call(API).status != 200:
                    failures += 1
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"resource_server": resource.server, "samples": samples}, handle, indent=2)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
