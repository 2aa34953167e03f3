"""1. The cache-hit path: the Authorization header (or token) for an already cached token.

Ours: `AuthorizationHeaderProvider.create_authorization_header(options)` (Bearer with a client
secret or a certificate; mTLS PoP with a certificate). Peers, with the same kind of credential:
MSAL Python's `ConfidentialClientApplication.acquire_token_for_client` (a secret, or a
certificate) and azure-identity's `ClientSecretCredential` / `CertificateCredential`
`get_token`, all answered from their caches. Neither peer can acquire mTLS PoP tokens, so our
mTLS PoP rows are compared with their certificate Bearer hit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from typing import Any

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Label, Row
from bench._setup import API, BenchEnv
from bench._timing import (
    Timing,
    measure_allocations,
    time_async_interleaved,
    time_interleaved_counting,
)

NAME = "cache_hit"
TITLE = "1. cache hit: Authorization header / token for a cached token"
SECRET_BEARER = "Bearer, client secret"
CERT_BEARER = "Bearer, certificate"
MTLS = "mTLS PoP, certificate"
ASYNC = ", asyncio"

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
    with (
        env.ours() as secret,
        env.ours(certificate=True) as certificate,
        env.ours(mtls=True) as bound,
    ):
        msal_secret, msal_cert = env.msal_app(), env.msal_app(certificate=True)
        azure_secret = env.azure_credential()
        azure_cert = env.azure_credential(certificate=True)
        msal_cert_call = _msal_call(msal_cert, env.scope)
        azure_cert_call = _azure_call(azure_cert, env.scope)
        calls = {
            Label(SECRET_BEARER, "identity-web", OURS): _header_call(secret),
            Label(SECRET_BEARER, "msal, client secret", PEER): _msal_call(msal_secret, env.scope),
            Label(SECRET_BEARER, "azure-identity ClientSecretCredential", PEER): _azure_call(
                azure_secret, env.scope
            ),
            Label(CERT_BEARER, "identity-web", OURS): _header_call(certificate),
            Label(CERT_BEARER, "msal, certificate", PEER): msal_cert_call,
            Label(CERT_BEARER, "azure-identity CertificateCredential", PEER): azure_cert_call,
            Label(MTLS, "identity-web", OURS): _header_call(bound),
        }
        rows = _measure(env, params, calls)
        result.rows += rows
        for row in rows[4:6]:  # the certificate peers' Bearer hits, beside our mTLS PoP hit
            note = "its Bearer hit: no mTLS PoP"
            result.add(Row(MTLS, row.impl, PEER, dict(row.metrics), note=note))
        azure_secret.close()
        azure_cert.close()
    result.rows += asyncio.run(_async_rows(env, params))
    result.compute_ratios()
    result.notes.append(
        "every peer row uses the credential kind of its case (client secret vs client secret, "
        "certificate vs certificate); MSAL Python and azure-identity cannot acquire mTLS PoP "
        "tokens, so the mTLS PoP rows compare our bound hit with their certificate Bearer hit"
    )
    result.notes.append(
        "peak B/call: most memory live at once during a call (tracemalloc); kept B/call: memory "
        "each result keeps alive; net req: token requests the emulator saw while timing that row "
        "(asyncio rows: all of the case together; 0 = every call was a cache hit); "
        "implementations alternate in 5 rounds"
    )
    result.notes.append(
        "every implementation is called as user code calls it, its bound method with one "
        "argument, no frame of the harness around it; p50/p99 come from a loop timing each "
        "call, ops/s from a second loop of as many calls that reads the clock only before and "
        "after"
    )
    return result


# Every call is `partial(bound method, argument)`, which the harness calls as
# `method(argument)` (`bench._timing._bare_loop`): as user code calls it, for every implementation.


def _header_call(services: Any) -> Callable[[], object]:
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    provider.create_authorization_header(options)  # fill the cache
    return partial(provider.create_authorization_header, options)


def _msal_call(app: Any, scope: str) -> Callable[[], object]:
    scopes = [scope]
    first = app.acquire_token_for_client(scopes)
    if "access_token" not in first:
        raise RuntimeError(f"MSAL could not acquire a token: {first.get('error_description')}")
    return partial(app.acquire_token_for_client, scopes)


def _azure_call(credential: Any, scope: str) -> Callable[[], object]:
    credential.get_token(scope)
    return partial(credential.get_token, scope)


def _measure(env: BenchEnv, params: Params, calls: dict[Label, Callable[[], object]]) -> list[Row]:
    """Time every call in alternating rounds; then tracemalloc each one on its own."""
    pairs = [(call, params.hit_calls) for call in calls.values()]
    timed = time_interleaved_counting(pairs, env.token_requests, bare=True)
    rows = []
    for (label, call), (timing, requests) in zip(calls.items(), timed, strict=True):
        metrics: dict[str, Any] = {**timing.metrics()}
        metrics.update(measure_allocations(call, params.alloc_calls).metrics())
        metrics["token_requests"] = requests
        rows.append(label.row(metrics))
    return rows


async def _async_rows(env: BenchEnv, params: Params) -> list[Row]:
    rows: list[Row] = []
    cases = (
        (SECRET_BEARER, {}, False, "azure-identity aio ClientSecretCredential"),
        (CERT_BEARER, {"certificate": True}, True, "azure-identity aio CertificateCredential"),
        (MTLS, {"mtls": True}, True, "azure-identity aio CertificateCredential"),
    )
    for case, ours_kind, peer_certificate, peer_name in cases:
        async with (
            env.ours(**ours_kind) as services,
            env.azure_credential_async(certificate=peer_certificate) as credential,
        ):
            ours, azure, requests = await _async_pair(env, params, services, credential)
        note = "its Bearer hit: no mTLS PoP" if case == MTLS else ""
        counted = {"token_requests": requests}
        rows.append(Row(case + ASYNC, "identity-web", OURS, {**ours.metrics(), **counted}))
        rows.append(Row(case + ASYNC, peer_name, PEER, {**azure.metrics(), **counted}, note=note))
    return rows


async def _async_pair(
    env: BenchEnv, params: Params, services: Any, credential: Any
) -> tuple[Timing, Timing, int]:
    """Ours and the azure-identity asyncio credential, alternating; token requests seen."""
    options = services.downstream_api.options(API)
    provider = services.authorization_header_provider
    await provider.create_authorization_header_async(options)
    await credential.get_token(env.scope)
    before = env.token_requests()
    ours, azure = await time_async_interleaved(
        [
            (partial(provider.create_authorization_header_async, options), params.hit_calls),
            (partial(credential.get_token, env.scope), params.hit_calls),
        ],
        bare=True,
    )
    return ours, azure, env.token_requests() - before
