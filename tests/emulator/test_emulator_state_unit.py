"""The state API other emulator services build on: directory, faults, log masking, clock."""

from __future__ import annotations

import os

import emulator_testkit as kit
import pytest

from identity_web.emulator._demo_tenant import build_default_state
from identity_web.emulator._emulator import HOSTING_SERVICES
from identity_web.emulator._jwt import decode
from identity_web.emulator._recording import FaultPlan, RequestLog, ScriptedResponse
from identity_web.emulator._server import ServerTls, encrypted_key_pem
from identity_web.emulator._state import EmulatorClock, EmulatorState
from identity_web.emulator._wire import EmulatorRequest


@pytest.fixture(scope="module")
def state() -> EmulatorState:
    return build_default_state()


def test_find_managed_identity_by_each_selector_and_default(state: EmulatorState) -> None:
    system, user = state.managed_identities
    assert state.find_managed_identity() == system
    assert state.find_managed_identity(client_id=user.client_id.upper()) == user
    assert state.find_managed_identity(object_id=user.object_id) == user
    assert state.find_managed_identity(resource_id=user.resource_id.lower()) == user
    assert state.find_managed_identity(client_id="nope") is None
    assert "/providers/Microsoft.ManagedIdentity/userAssignedIdentities/" in user.resource_id
    assert (system.kind, user.kind) == ("SystemAssigned", "UserAssigned")


def test_demo_app_trusts_both_managed_identities(state: EmulatorState) -> None:
    app = state.apps[0]
    assert all(app.trusts_managed_identity(mi.client_id) for mi in state.managed_identities)
    assert app.client_secret
    assert app.certificates


def test_resources_registry(state: EmulatorState) -> None:
    demo = next(iter(state.resources))
    assert demo.bound_tokens_enabled
    assert state.resources.find(f"api://{demo.app_id}/") == demo
    assert state.resources.find(demo.app_id) == demo
    assert state.resources.find("api://AzureADTokenExchange") is not None
    management = state.resources.find("https://management.azure.com/")
    assert management is not None
    assert not management.bound_tokens_enabled


def test_mint_access_token_claims_and_header(state: EmulatorState) -> None:
    token = state.mint_access_token(
        client_id="c",
        object_id="o",
        audience="api://a",
        appidacr="2",
        cnf_x5t_s256="t",
        lifetime=60,
    )
    decoded = decode(token)
    decoded.verify(state.signing.key.public_key())
    assert decoded.header["kid"] == state.signing.kid
    assert decoded.algorithm == "RS256"
    claims = decoded.claims
    assert claims["cnf"] == {"x5t#S256": "t"}
    assert claims["xms_tbflags"] == 2
    assert claims["exp"] - claims["iat"] == 60
    assert claims["idtyp"] == "app"


def test_clock_shift_moves_token_times() -> None:
    clock = EmulatorClock(lambda: 1000.0)
    clock.shift(500)
    assert clock.now() == 1500.0
    clock.reset()
    assert clock.now() == 1000.0


def test_fault_plan_consumes_in_order_per_endpoint() -> None:
    slept: list[float] = []
    plan = FaultPlan(sleep=slept.append)
    plan.inject("imds.token", [ScriptedResponse(500, delay_ms=250), ScriptedResponse(404)])
    first, second = plan.take("imds.token"), plan.take("imds.token")
    assert first is not None
    assert first.status == 500
    assert second is not None
    assert second.status == 404
    assert plan.take("imds.token") is None
    assert plan.take("resource") is None
    assert slept == [0.25]


def test_request_log_masks_secrets_and_omits_csr() -> None:
    log = RequestLog(lambda: 0.0)
    request = EmulatorRequest(
        method="POST",
        path="/x",
        query={"client_id": "c"},
        headers={
            "content-type": "application/json",
            "authorization": "Basic s3cr3t",
            "x-identity-header": "hdr",
        },
        body=b'{"csr": "MIIB", "attestation_token": "jwt", "client_id": "c"}',
        client_cert_der=None,
    )
    log.record("imds.issuecredential", request, 200)
    (entry,) = log.entries()
    assert entry["form"] == {"csr": "<omitted>", "attestation_token": "***", "client_id": "c"}
    assert entry["headers"]["authorization"] == "Basic ***"
    assert entry["headers"]["x-identity-header"] == "***"
    assert "s3cr3t" not in str(entry)
    assert "hdr" not in str(entry)


def test_ca_issue_and_issued_check(state: EmulatorState) -> None:
    mine = kit.issue(state.imds_issuer, kit.self_signed("x").certificate.subject)
    assert state.imds_issuer.issued(mine.certificate)
    assert not state.ca.issued(mine.certificate)


def test_server_tls_loads_without_memfd(
    state: EmulatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where `os.memfd_create` is missing (macOS), the key goes through a removed temp file."""
    monkeypatch.delattr(os, "memfd_create")
    tls = ServerTls(
        state.server_certificate,
        encrypted_key_pem(state.server_key, b"pw"),
        [state.ca.certificate],
        b"pw",
    )
    assert tls.context.verify_mode.name == "CERT_OPTIONAL"


def test_faults_can_be_scripted_for_every_hosting_endpoint_before_it_is_used() -> None:
    fresh = build_default_state()
    names = {factory(fresh).endpoint_name for _, factory, _ in HOSTING_SERVICES}
    assert names <= fresh.fault_endpoints
