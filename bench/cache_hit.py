"""1. The cache-hit path: the Authorization header (or token) for an already cached token.

Ours: `AuthorizationHeaderProvider.create_authorization_header(options)` (Bearer with a client
secret; mTLS PoP with a certificate). Peers: MSAL Python's
`ConfidentialClientApplication.acquire_token_for_client` and azure-identity's
`ClientSecretCredential.get_token`, both answered from their caches. Neither peer can acquire
mTLS PoP tokens, so our mTLS PoP row is compared with MSAL's Bearer hit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Label, Row
from bench._setup import API, BenchEnv
from bench._timing import measure_allocations, time_async_interleaved, time_interleaved_counting

NAME = "cache_hit"
TITLE = "1. cache hit: Authorization header / token for a cached token"
BEARER = "Bearer, client secret"
BEARER_ASYNC = "Bearer, client secret, asyncio"
MTLS = "mTLS PoP, certificate"

COLUMNS = (
    Column("ops_per_s", "ops/s", 0),
    Column("p50_us", "p50 µs", 2),
    Column("p99_us", "p99 µs", 2),
    Column("alloc_peak_bytes", "peak B/call", 0),
    Column("retained_bytes", "kept B/call", 0),
    Column("token_requests", "net req", 0),
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="ops_per_s",
        ratio_meaning=">1 means ours answers more calls per second",
    )
    with env.ours() as bearer, env.ours(mtls=True) as bound:
        ours_bearer = _header_call(bearer)
        ours_mtls = _header_call(bound)
        app = env.msal_app()
        msal_call = _msal_call(app, env.scope)
        credential = env.azure_credential()
        azure_call = _azure_call(credential, env.scope)
        calls = {
            Label(BEARER, "identity-web", OURS): ours_bearer,
            Label(BEARER, "msal", PEER): msal_call,
            Label(BEARER, "azure-identity", PEER): azure_call,
            Label(MTLS, "identity-web", OURS): ours_mtls,
        }
        rows = _measure(env, params, calls)
        result.rows += rows
        msal_row = rows[1]
        result.add(
            Row(MTLS, "msal (its Bearer hit)", PEER, dict(msal_row.metrics), note="no mTLS PoP")
        )
        credential.close()
    result.rows += asyncio.run(_async_rows(env, params))
    result.compute_ratios()
    result.notes.append(
        "MSAL Python and azure-identity cannot acquire mTLS PoP tokens; the mTLS PoP row is "
        "compared with MSAL's Bearer cache hit"
    )
    result.notes.append(
        "peak B/call: most memory live at once during a call (tracemalloc); kept B/call: memory "
        "each result keeps alive; net req: token requests the emulator saw while timing that row "
        "(asyncio rows: both together; 0 = every call was a cache hit); implementations alternate "
        "in 5 rounds"
    )
    return result


def _header_call(services: Any) -> Callable[[], object]:
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    provider.create_authorization_header(options)  # fill the cache

    def call() -> object:
        return provider.create_authorization_header(options)

    return call


def _msal_call(app: Any, scope: str) -> Callable[[], object]:
    scopes = [scope]
    first = app.acquire_token_for_client(scopes)
    if "access_token" not in first:
        raise RuntimeError(f"MSAL could not acquire a token: {first.get('error_description')}")

    def call() -> object:
        return app.acquire_token_for_client(scopes)

    return call


def _azure_call(credential: Any, scope: str) -> Callable[[], object]:
    credential.get_token(scope)

    def call() -> object:
        return credential.get_token(scope)

    return call


def _measure(env: BenchEnv, params: Params, calls: dict[Label, Callable[[], object]]) -> list[Row]:
    """Time every call in alternating rounds; then tracemalloc each one on its own."""
    pairs = [(call, params.hit_calls) for call in calls.values()]
    timed = time_interleaved_counting(pairs, env.token_requests)
    rows = []
    for (label, call), (timing, requests) in zip(calls.items(), timed, strict=True):
        metrics: dict[str, Any] = {**timing.metrics()}
        metrics.update(measure_allocations(call, params.alloc_calls).metrics())
        metrics["token_requests"] = requests
        rows.append(label.row(metrics))
    return rows


async def _async_rows(env: BenchEnv, params: Params) -> list[Row]:
    async with env.ours() as services, env.azure_credential_async() as credential:
        options = services.downstream_api.options(API)
        provider = services.authorization_header_provider
        await provider.create_authorization_header_async(options)
        await credential.get_token(env.scope)
        before = env.token_requests()
        ours, azure = await time_async_interleaved(
            [
                (lambda: provider.create_authorization_header_async(options), params.hit_calls),
                (lambda: credential.get_token(env.scope), params.hit_calls),
            ]
        )
        requests = env.token_requests() - before
    return [
        Row(BEARER_ASYNC, "identity-web", OURS, {**ours.metrics(), "token_requests": requests}),
        Row(
            BEARER_ASYNC,
            "azure-identity (aio)",
            PEER,
            {**azure.metrics(), "token_requests": requests},
        ),
    ]
