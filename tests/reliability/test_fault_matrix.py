"""The fault matrix: faults injected by the emulator (HTTP answers and broken connections) on
IMDS, Entra (login and mtlsauth), the downstream API and Redis, each driven through the public
API (`TokenAcquirerFactory` → `downstream_api.call`). Every case either survives or fails with
the package's typed error, within a measured time bound (docs/reliability.md)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from e2e_helpers import build, certificate_config, secret_config
from redis_servers import free_port

from identity_web import (
    IdentityWebError,
    ManagedIdentityError,
    NetworkError,
    ServiceError,
    ServiceProvider,
    TokenAcquirerFactory,
    TokenAcquisitionError,
    TokenTypeMismatchError,
)
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings import IdentityWebSettings
from identity_web.transport._deadline import DEADLINE_VARIABLE

API = "MyApi"


def secret_bearer(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    return secret_config(manifest, **api)


def certificate_mtls(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    return certificate_config(manifest, ProtocolScheme="MTLS_POP", **api)


def msi_bearer(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    config = secret_config(manifest, AcquireTokenOptions={"ManagedIdentity": {}}, **api)
    return {**config, "AzureAd": {}}


def msi_mtls(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    return msi_bearer(manifest, ProtocolScheme="MTLS_POP", **api)


Config = Callable[..., dict[str, Any]]
OK = None  # the call succeeds (2xx from the resource)


@dataclass(frozen=True)
class Case:
    """One row of the matrix: faults per endpoint, the configuration, what must happen."""

    name: str
    config: Config
    faults: dict[str, list[dict[str, Any]]]
    expect: type[IdentityWebError] | int | None  # an error type, a resource status, or OK
    bound: float  # seconds the whole call may take
    requests: dict[str, int] = field(default_factory=dict)  # endpoint → requests it must see
    method: str = "GET"


def _reset(**extra: Any) -> dict[str, Any]:
    return {"status": None, "kind": "connection_reset", **extra}


CASES = [
    # -- Entra login host (client secret, Bearer) --------------------------------------------
    Case("login-500-once", secret_bearer, {"entra.token": [{"status": 500}]}, OK, 5),
    Case("login-503-always", secret_bearer, {"entra.token": [{"status": 503}] * 6},
         ServiceError, 8),
    Case("login-invalid-client", secret_bearer, {"entra.token": [{"status": 401, "body": {
        "error": "invalid_client", "error_description": "AADSTS7000215: bad secret",
        "error_codes": [7000215]}}]}, ServiceError, 3, {"entra.token": 1}),
    Case("login-200-html", secret_bearer, {"entra.token": [{"status": 200, "body": "<html>"}]},
         TokenAcquisitionError, 3, {"entra.token": 1}),
    Case("login-200-json-cut", secret_bearer, {"entra.token": [{"status": 200,
         "body": '{"access_token": "abc", "token_ty'}]}, TokenAcquisitionError, 3),
    Case("login-reset-mid-body", secret_bearer, {"entra.token": [_reset()]}, NetworkError, 5),
    Case("login-truncated-body", secret_bearer,
         {"entra.token": [{"status": None, "kind": "truncated_body"}]}, NetworkError, 5),
    Case("login-tls-alert", secret_bearer, {"entra.token": [{"status": None, "kind": "tls_alert"}]},
         NetworkError, 5),
    Case("login-slow-body-6s", secret_bearer, {"entra.token": [{"status": None,
         "kind": "slow_body", "chunk_bytes": 100, "interval_ms": 300}]}, OK, 15),
    Case("login-slow-headers-2s", secret_bearer,
         {"entra.token": [{"status": None, "delay_ms": 2000}]}, OK, 6),
    Case("login-429-retry-after", secret_bearer, {"entra.token": [{"status": 429,
         "headers": {"Retry-After": "1"}, "body": {"error": "temporarily_unavailable"}}]},
         ServiceError, 5),
    # -- Entra mtlsauth host (certificate, MTLS_POP) ------------------------------------------
    Case("mtls-500-once", certificate_mtls, {"entra.mtls_token": [{"status": 500}]}, OK, 5),
    Case("mtls-reset-mid-body", certificate_mtls, {"entra.mtls_token": [_reset()]},
         NetworkError, 5),
    Case("mtls-tls-alert", certificate_mtls,
         {"entra.mtls_token": [{"status": None, "kind": "tls_alert"}]}, NetworkError, 5),
    Case("mtls-bearer-answer", certificate_mtls, {"entra.mtls_token": [{"status": 200, "body": {
        "access_token": "x.y.z", "token_type": "Bearer", "expires_in": 3600}}]},
         TokenTypeMismatchError, 3),
    Case("mtls-openid-500", certificate_mtls,
         {"entra.openid_configuration": [{"status": 500}] * 4}, IdentityWebError, 8),
    Case("mtls-openid-no-alias", certificate_mtls,
         {"entra.openid_configuration": [{"status": 200, "body": {}}]}, TokenAcquisitionError, 3),
    Case("mtls-700027-reload-once", certificate_mtls, {"entra.mtls_token": [{"status": 401,
        "body": {"error": "invalid_client", "error_codes": [700027],
                 "error_description": "AADSTS700027: signature"}}]}, OK, 5,
         {"entra.mtls_token": 2}),
    Case("mtls-700027-twice-no-loop", certificate_mtls, {"entra.mtls_token": [{"status": 401,
        "body": {"error": "invalid_client", "error_codes": [700027],
                 "error_description": "AADSTS700027: signature"}}] * 3}, ServiceError, 5,
         {"entra.mtls_token": 2}),
    # -- IMDS v1 (managed identity, Bearer) ----------------------------------------------------
    Case("imds-500-once", msi_bearer, {"imds.token": [{"status": 500}]}, OK, 4,
         {"imds.token": 2}),
    Case("imds-400-unassigned", msi_bearer, {"imds.token": [{"status": 400, "body": {
        "error": "invalid_request", "error_description": "Identity not found"}}]},
         ManagedIdentityError, 3, {"imds.token": 1}),
    Case("imds-429-retry-after-1", msi_bearer,
         {"imds.token": [{"status": 429, "headers": {"Retry-After": "1"}}]}, OK, 4),
    Case("imds-200-not-json", msi_bearer, {"imds.token": [{"status": 200, "body": "hello"}]},
         ManagedIdentityError, 3),
    Case("imds-reset-mid-body-retried", msi_bearer, {"imds.token": [_reset()]}, OK, 5,
         {"imds.token": 2}),
    Case("imds-truncated-body-retried", msi_bearer,
         {"imds.token": [{"status": None, "kind": "truncated_body"}]}, OK, 5, {"imds.token": 2}),
    Case("imds-slow-3s", msi_bearer, {"imds.token": [{"status": None, "delay_ms": 3000}]}, OK, 7),
    # -- IMDS v2 (managed identity, MTLS_POP) -------------------------------------------------
    Case("imdsv2-metadata-404-once", msi_mtls, {"imds.getplatformmetadata": [{"status": 404}]},
         OK, 4, {"imds.getplatformmetadata": 2}),
    Case("imdsv2-metadata-not-imds", msi_mtls, {"imds.getplatformmetadata": [{"status": 200,
         "body": {"clientId": "x"}, "headers": {"Server": "nginx"}}]}, ManagedIdentityError, 3),
    Case("imdsv2-issue-500-once", msi_mtls, {"imds.issuecredential": [{"status": 500}]}, OK, 6),
    Case("imdsv2-issue-reset-retried", msi_mtls, {"imds.issuecredential": [_reset()]}, OK, 6,
         {"imds.issuecredential": 2}),
    # -- Downstream API (client secret, Bearer) -----------------------------------------------
    Case("resource-503-get", secret_bearer, {"resource": [{"status": 503}]}, 503, 3,
         {"resource": 1}),
    Case("resource-503-post", secret_bearer, {"resource": [{"status": 503}]}, 503, 3,
         {"resource": 1}, "POST"),
    Case("resource-reset-get", secret_bearer, {"resource": [_reset()]}, None, 5),
    Case("resource-reset-post-not-retried", secret_bearer, {"resource": [_reset()]},
         IdentityWebError, 5, {"resource": 1}, "POST"),
    Case("resource-tls-alert", secret_bearer,
         {"resource": [{"status": None, "kind": "tls_alert"}]}, IdentityWebError, 5),
    Case("resource-slow-body", secret_bearer, {"resource": [{"status": None, "kind": "slow_body",
         "chunk_bytes": 64, "interval_ms": 100}]}, 200, 10),
]  # fmt: skip


def _inject(emulator: Emulator, faults: dict[str, list[dict[str, Any]]]) -> None:
    for endpoint, responses in faults.items():
        emulator.inject_faults(endpoint, [_as_fault(r) for r in responses])


def _as_fault(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body")
    return response if not isinstance(body, dict) else {**response, "body": json.dumps(body)}


def _call(services: ServiceProvider, method: str) -> int:
    overrides = {"HttpMethod": method}
    if method == "POST":
        return services.downstream_api.call(API, overrides=overrides, json={"n": 1}).status
    return services.downstream_api.call(API, overrides=overrides).status


MEASURED: dict[str, float] = {}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_fault(case: Case, emulator: Emulator) -> None:
    manifest = emulator.manifest
    extra = {} if case.method == "GET" else {"RelativePath": "orders"}
    with build(case.config(manifest, **extra), manifest) as services:
        _inject(emulator, case.faults)
        started = time.monotonic()
        outcome: int | IdentityWebError
        try:
            outcome = _call(services, case.method)
        except IdentityWebError as error:
            outcome = error
        elapsed = time.monotonic() - started
    MEASURED[case.name] = elapsed
    if case.expect is None:
        assert outcome == 200, outcome
    elif isinstance(case.expect, int):
        assert outcome == case.expect
    else:
        assert isinstance(outcome, case.expect), repr(outcome)
        assert str(outcome)
    assert elapsed < case.bound, f"{case.name} took {elapsed:.2f} s"
    for endpoint, count in case.requests.items():
        assert len(emulator.requests(endpoint)) == count, emulator.requests(endpoint)


def _timed(action: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    try:
        result: object = action()
    except IdentityWebError as error:
        result = error
    return result, time.monotonic() - started


def _keepalive_then(emulator: Emulator, method: str) -> tuple[object, float]:
    """One GET served on a kept-alive connection that the server closes as the next call comes."""
    manifest = emulator.manifest
    with build(secret_bearer(manifest), manifest) as services:
        emulator.inject_faults("resource", [{"status": None, "kind": "keepalive_close"}])
        assert _call(services, "GET") == 200
        outcome = _timed(lambda: _call(services, method))
    MEASURED[f"resource-keepalive-closed-{method.lower()}"] = outcome[1]
    return outcome


def test_get_on_a_connection_the_server_closed_is_retried_once(emulator: Emulator) -> None:
    outcome, elapsed = _keepalive_then(emulator, "GET")
    assert outcome == 200, repr(outcome)
    assert elapsed < 3
    assert len(emulator.requests("resource")) == 2


def test_post_on_a_connection_the_server_closed_is_not_retried(emulator: Emulator) -> None:
    outcome, elapsed = _keepalive_then(emulator, "POST")
    assert isinstance(outcome, IdentityWebError), repr(outcome)
    assert elapsed < 3
    # The dropped POST never reached the service; a blind retry would have been logged.
    assert [e["method"] for e in emulator.requests("resource")] == ["GET"]


#: The overall deadline of identity requests in the tests below (the default is 60 s).
DEADLINE = 1.5
TRICKLE = {"status": None, "kind": "slow_body", "chunk_bytes": 1, "interval_ms": 40}


def _with_deadline(config: dict[str, Any], manifest: EmulatorManifest) -> ServiceProvider:
    environ = {**manifest.env(), DEADLINE_VARIABLE: str(DEADLINE)}
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=environ)
    return factory.add_downstream_api(API).build()


def test_a_trickling_token_answer_is_cut_by_an_overall_deadline(emulator: Emulator) -> None:
    """A token answer is ~1.2 kB: trickled at 1 B / 40 ms it would last ~50 s, every byte well
    within the 30 s read timeout. The deadline ends the call (a token POST is not resent)."""
    with _with_deadline(secret_bearer(emulator.manifest), emulator.manifest) as services:
        emulator.inject_faults("entra.token", [TRICKLE])
        outcome, elapsed = _timed(lambda: _call(services, "GET"))
    MEASURED["login-trickle-deadline"] = elapsed
    assert isinstance(outcome, NetworkError), repr(outcome)
    assert f"deadline of {DEADLINE:g} s" in str(outcome)
    assert DEADLINE <= elapsed < DEADLINE + 2
    assert len(emulator.requests("entra.token")) == 1


def test_a_trickling_imds_answer_is_cut_then_sent_once_more(emulator: Emulator) -> None:
    """An IMDS GET cut by the deadline is a failure without an answer: retried, and it succeeds."""
    with _with_deadline(msi_bearer(emulator.manifest), emulator.manifest) as services:
        emulator.inject_faults("imds.token", [TRICKLE])
        outcome, elapsed = _timed(lambda: asyncio.run(_call_async(services)))
    MEASURED["imds-trickle-deadline-retried"] = elapsed
    assert outcome == 200, repr(outcome)
    assert DEADLINE <= elapsed < DEADLINE + 4
    assert len(emulator.requests("imds.token")) == 2


async def _call_async(services: ServiceProvider) -> int:
    try:
        return (await services.downstream_api.call_async(API)).status
    finally:
        await services.aclose()


def test_a_trickling_downstream_answer_is_the_applications_time(emulator: Emulator) -> None:
    """Downstream calls carry no identity deadline: a body trickling past it still arrives."""
    with _with_deadline(secret_bearer(emulator.manifest), emulator.manifest) as services:
        slow = {**TRICKLE, "chunk_bytes": 8, "interval_ms": 50}
        emulator.inject_faults("resource", [slow])
        outcome, elapsed = _timed(lambda: _call(services, "GET"))
    assert outcome == 200, repr(outcome)
    assert elapsed > DEADLINE


def _with_redis(manifest: EmulatorManifest, url: str) -> dict[str, Any]:
    return {**secret_bearer(manifest), "TokenCache": {"Type": "Redis", "ConnectionString": url}}


def _token_requests(emulator: Emulator) -> int:
    return len(emulator.requests("entra.token"))


def test_redis_refused_costs_little_and_the_call_succeeds(emulator: Emulator) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    with build(_with_redis(emulator.manifest, url), emulator.manifest) as services:
        outcome, elapsed = _timed(lambda: (_call(services, "GET"), _call(services, "GET")))
    MEASURED["redis-refused"] = elapsed
    assert outcome == (200, 200)
    assert elapsed < 5
    assert _token_requests(emulator) == 1  # L1 kept the token


def test_redis_hung_costs_one_socket_timeout(emulator: Emulator, redis_server: Any) -> None:
    redis_server.pause()
    try:
        with build(_with_redis(emulator.manifest, redis_server.url), emulator.manifest) as svc:
            outcome, elapsed = _timed(lambda: (_call(svc, "GET"), _call(svc, "GET")))
    finally:
        redis_server.resume()
    MEASURED["redis-hung"] = elapsed
    assert outcome == (200, 200)
    assert elapsed < 6


def test_redis_killed_between_calls_keeps_serving_from_l1(
    emulator: Emulator, redis_server: Any
) -> None:
    with build(_with_redis(emulator.manifest, redis_server.url), emulator.manifest) as svc:
        assert _call(svc, "GET") == 200
        redis_server.kill()
        outcome, elapsed = _timed(lambda: _call(svc, "GET"))
    MEASURED["redis-killed-between-calls"] = elapsed
    assert outcome == 200
    assert elapsed < 3
    assert _token_requests(emulator) == 1


def test_a_second_replica_reads_the_token_from_redis(emulator: Emulator, redis_server: Any) -> None:
    config = _with_redis(emulator.manifest, redis_server.url)
    with build(config, emulator.manifest) as first:
        assert _call(first, "GET") == 200
    with build(config, emulator.manifest) as second:
        outcome, elapsed = _timed(lambda: _call(second, "GET"))
    MEASURED["redis-second-replica"] = elapsed
    assert outcome == 200
    assert _token_requests(emulator) == 1


@pytest.fixture(autouse=True, scope="module")
def _report_times() -> Iterator[None]:
    """With `-s`, print each case's measured time (the figures in docs/reliability.md)."""
    yield
    for name, seconds in sorted(MEASURED.items()):
        print(f"fault-matrix {name}: {seconds:.2f} s")
