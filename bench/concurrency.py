"""3. Concurrent callers on a cold cache: how many token requests reach the identity provider.

N threads (64, released together by a barrier) and M asyncio tasks (1,000, started together)
ask for the same token while the cache is empty. The emulator's token endpoint answers after a
scripted delay (a slow STS), so every caller arrives while the first request is in flight. The
count comes from the emulator's request log. MSAL has no asyncio API: its tasks run it with
`asyncio.to_thread`; the asyncio credential of azure-identity is native, its transport
(azure-core's `AsyncioRequestsTransport`) runs requests in the loop's executor. That executor has
N threads.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Label, Metric, Row
from bench._setup import API, BenchEnv, clear_azure_cache, clear_msal_cache, our_cache

NAME = "concurrency"
TITLE = "3. concurrent callers, cold cache: token requests sent for one key"

COLUMNS = (
    Column("callers", "callers", 0),
    Column("token_requests", "token requests", 0),
    Column("wall_ms", "wall ms", 0),
    Column("failures", "failures", 0),
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="token_requests",
        ratio_meaning="<1 means ours sends fewer token requests",
    )
    n = params.concurrency
    threads = f"{n} threads"
    with env.ours() as services:
        result.add(
            _threads(env, params, Label(threads, "identity-web", OURS), _ours_sync(services))
        )
    result.add(_threads(env, params, Label(threads, "msal, client secret", PEER), _msal_sync(env)))
    credential = env.azure_credential()
    azure = _azure_sync(env, credential)
    result.add(
        _threads(env, params, Label(threads, "azure-identity ClientSecretCredential", PEER), azure)
    )
    credential.close()
    tasks = f"{params.async_concurrency} asyncio tasks"
    result.rows += asyncio.run(_async_rows(env, params, tasks))
    result.compute_ratios()
    result.notes.append(
        f"the token endpoint answers after {params.sts_delay_ms} ms; wall ms: from release to "
        f"the last caller's answer; asyncio: the loop's executor (MSAL's to_thread, azure-core's "
        f"requests transport) has {n} threads"
    )
    return result


# -- threads -----------------------------------------------------------------------------


def _ours_sync(services: Any) -> Callable[[], object]:
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    provider.create_authorization_header(options)
    our_cache(services).clear()
    return lambda: provider.create_authorization_header(options)


def _msal_sync(env: BenchEnv) -> Callable[[], object]:
    app, scopes = env.msal_app(), [env.scope]
    app.acquire_token_for_client(scopes)
    clear_msal_cache(app.token_cache)

    def call() -> object:
        result = app.acquire_token_for_client(scopes)
        if "access_token" not in result:
            raise RuntimeError(f"MSAL failed: {result.get('error_description')}")
        return result

    return call


def _azure_sync(env: BenchEnv, credential: Any) -> Callable[[], object]:
    credential.get_token(env.scope)
    clear_azure_cache(credential)
    return lambda: credential.get_token(env.scope)


def _threads(env: BenchEnv, params: Params, label: Label, call: Callable[[], object]) -> Row:
    n = params.concurrency
    barrier = threading.Barrier(n + 1)
    failures: list[BaseException] = []

    def caller() -> None:
        barrier.wait()
        try:
            call()
        except Exception as error:  # counted and reported
            failures.append(error)

    before = _slow(env, params, n)
    with ThreadPoolExecutor(n) as pool:
        futures = [pool.submit(caller) for _ in range(n)]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
        wall = time.perf_counter() - started
    return _row(env, label, before, Outcome(n, wall, failures))


def _slow(env: BenchEnv, params: Params, callers: int) -> int:
    env.slow_token_endpoint(params.sts_delay_ms, callers)
    return env.token_requests()


@dataclass(frozen=True, slots=True)
class Outcome:
    callers: int
    wall_s: float
    failures: list[BaseException]


def _row(env: BenchEnv, label: Label, before: int, outcome: Outcome) -> Row:
    requests = env.token_requests() - before
    env.emulator.clear_faults()
    failures = outcome.failures
    metrics: dict[str, Metric] = {
        "callers": outcome.callers,
        "token_requests": requests,
        "wall_ms": outcome.wall_s * 1000,
        "failures": len(failures),
    }
    note = f"first failure: {type(failures[0]).__name__}: {failures[0]}" if failures else ""
    return label.row(metrics, note=note)


# -- asyncio -----------------------------------------------------------------------------


async def _async_rows(env: BenchEnv, params: Params, case: str) -> list[Row]:
    n = params.concurrency
    asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(n))
    rows = []
    async with env.ours() as services:
        options = services.downstream_api.options(API)
        provider = services.authorization_header_provider
        await provider.create_authorization_header_async(options)
        our_cache(services).clear()
        label = Label(case, "identity-web", OURS)
        rows.append(
            await _tasks(
                env, params, label, lambda: provider.create_authorization_header_async(options)
            )
        )
    app, scopes = env.msal_app(), [env.scope]
    app.acquire_token_for_client(scopes)
    clear_msal_cache(app.token_cache)
    label = Label(case, "msal, client secret (to_thread)", PEER)
    rows.append(
        await _tasks(
            env, params, label, lambda: asyncio.to_thread(app.acquire_token_for_client, scopes)
        )
    )
    async with env.azure_credential_async() as credential:
        await credential.get_token(env.scope)
        clear_azure_cache(credential)
        label = Label(case, "azure-identity aio ClientSecretCredential", PEER)
        rows.append(await _tasks(env, params, label, lambda: credential.get_token(env.scope)))
    return rows


async def _tasks(
    env: BenchEnv, params: Params, label: Label, call: Callable[[], Awaitable[object]]
) -> Row:
    n = params.async_concurrency
    before = _slow(env, params, n)
    started = time.perf_counter()
    outcomes = await asyncio.gather(*(call() for _ in range(n)), return_exceptions=True)
    wall = time.perf_counter() - started
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    failures += [
        RuntimeError(str(o.get("error")))
        for o in outcomes
        if isinstance(o, dict) and "access_token" not in o
    ]
    return _row(env, label, before, Outcome(n, wall, failures))
