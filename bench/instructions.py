"""Instructions per downstream call, counted by callgrind: a measure this shared machine's load
does not move (times on it swing by ±10 % and more).

    valgrind --tool=callgrind --collect-atstart=no --toggle-collect=functools_reduce \\
        --callgrind-out-file=ours.out python -m bench.instructions ours 200
    grep ^summary ours.out        # instructions of 200 calls, client side only

`ours` is `DownstreamApi.call` (MTLS_POP, cached token), `raw` the floor of `bench.downstream`
(httpx, the same SSLContext and pool limits, one client, a static header); `--async` awaits
`call_async` and the floor's `httpx.AsyncClient` on one warmed event loop. Only the calls
inside `functools.reduce` are counted: the servers run in their own processes, which valgrind
does not follow, and the setup and warm-up are outside the toggle.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
from collections.abc import Awaitable, Callable

from bench._setup import API, bench_env
from bench.downstream import RawClient
from identity_web.transport import ssl_context_for

WARM_UP = 20


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.instructions")
    parser.add_argument("which", choices=("ours", "raw"))
    parser.add_argument("calls", type=int)
    parser.add_argument("--async", dest="asynchronous", action="store_true")
    args = parser.parse_args()
    with bench_env() as env, env.ours(mtls=True) as services:
        downstream = services.downstream_api
        info = services.authorization_header_provider.create_authorization_header(
            downstream.options(API)
        )
        context = ssl_context_for(info.binding_certificate, ca_bundle=env.manifest.ca_bundle)
        raw = RawClient(env, info.header_value, context)
        try:
            if args.asynchronous:
                _count_async(raw, lambda: downstream.call_async(API), args.which, args.calls)
            else:
                call = (lambda: downstream.call(API)) if args.which == "ours" else raw.reused
                _count(lambda: _repeat(call, WARM_UP), lambda: _repeat(call, args.calls))
        finally:
            raw.close()


def _count_async(
    raw: RawClient, ours: Callable[[], Awaitable[object]], which: str, calls: int
) -> None:
    loop = asyncio.new_event_loop()
    floor = raw.async_client()
    call = ours if which == "ours" else loop.run_until_complete(floor.__aenter__())

    async def repeat(times: int) -> None:
        for _ in range(times):
            await call()

    try:
        _count(
            lambda: loop.run_until_complete(repeat(WARM_UP)),
            lambda: loop.run_until_complete(repeat(calls)),
        )
    finally:
        loop.run_until_complete(floor.__aexit__())
        loop.close()


def _count(warm_up: Callable[[], None], measured: Callable[[], None]) -> None:
    warm_up()
    functools.reduce(lambda _, __: measured(), range(1), None)  # the toggle around the calls


def _repeat(call: Callable[[], object], times: int) -> None:
    for _ in range(times):
        call()


if __name__ == "__main__":
    main()
