"""2. Cold acquisition: the cache is emptied before every call, so each call is one token
request to the emulator's token endpoint (connections stay open, as in a running service).

Ours empties `InMemoryTokenCache`; MSAL's and azure-identity's access tokens are removed with
MSAL's public `TokenCache.search` / `remove_at` (azure-identity keeps its `msal.TokenCache`
in a private attribute). Each client has read its authority metadata before timing starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Label
from bench._setup import API, BenchEnv, clear_azure_cache, clear_msal_cache, our_cache
from bench._timing import time_interleaved_counting

NAME = "cold"
TITLE = "2. cold acquisition: one token request per call (cache emptied each time)"
BEARER = "Bearer, client secret"
MTLS = "mTLS PoP, certificate (ours only)"

COLUMNS = (
    Column("ops_per_s", "ops/s", 0),
    Column("p50_us", "p50 µs", 0),
    Column("p99_us", "p99 µs", 0),
    Column("token_requests", "token req", 0),
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="p50_us",
        ratio_meaning="<1 means ours takes less time per acquisition",
    )
    with env.ours() as bearer, env.ours(mtls=True) as bound:
        credential = env.azure_credential()
        calls = {
            Label(BEARER, "identity-web", OURS): _ours(bearer),
            Label(BEARER, "msal, client secret", PEER): _msal(env),
            Label(BEARER, "azure-identity ClientSecretCredential", PEER): _azure(env, credential),
            Label(MTLS, "identity-web", OURS): _ours(bound),
        }
        n = params.cold_calls
        timed = time_interleaved_counting(
            [(call, n) for call in calls.values()], env.token_requests
        )
        for label, (timing, requests) in zip(calls, timed, strict=True):
            result.add(label.row({**timing.metrics(), "token_requests": requests}))
        credential.close()
    result.compute_ratios()
    result.notes.append(
        "token req: token requests the emulator served while timing (one per call expected; "
        "the implementations alternate in 5 rounds); the emulator runs in its own process"
    )
    return result


def _ours(services: Any) -> Callable[[], object]:
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    cache = our_cache(services)
    provider.create_authorization_header(options)  # credential loaded, connection open

    def call() -> object:
        cache.clear()
        return provider.create_authorization_header(options)

    return call


def _msal(env: BenchEnv) -> Callable[[], object]:
    app, scopes = env.msal_app(), [env.scope]
    app.acquire_token_for_client(scopes)

    def call() -> object:
        clear_msal_cache(app.token_cache)
        result = app.acquire_token_for_client(scopes)
        if "access_token" not in result:
            raise RuntimeError(f"MSAL failed: {result.get('error_description')}")
        return result

    return call


def _azure(env: BenchEnv, credential: Any) -> Callable[[], object]:
    scope = env.scope
    credential.get_token(scope)

    def call() -> object:
        clear_azure_cache(credential)
        return credential.get_token(scope)

    return call
