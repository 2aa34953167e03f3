"""The emulator's IMDS service, request by request (in-process, no sockets)."""

from __future__ import annotations

import json

import pytest

from identity_web.emulator._attestation import AttestationMode
from identity_web.emulator._demo_tenant import build_default_state
from identity_web.emulator._recording import ScriptedResponse
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse
from identity_web.emulator.imds import ImdsService

TOKEN = "/metadata/identity/oauth2/token"


@pytest.fixture(scope="module")
def state() -> EmulatorState:
    return build_default_state()


@pytest.fixture
def imds(state: EmulatorState) -> ImdsService:
    state.request_log.clear()
    state.faults.clear()
    return ImdsService(state)


def get(
    imds: ImdsService, path: str, query: dict[str, str], metadata: bool = True
) -> EmulatorResponse:
    headers = {"metadata": "true"} if metadata else {}
    return imds.handle(EmulatorRequest("GET", path, query, headers))


def body(answer: EmulatorResponse) -> dict:
    return json.loads(answer.body)


def v1(imds: ImdsService, **selectors: str) -> EmulatorResponse:
    return get(
        imds,
        TOKEN,
        {"api-version": "2018-02-01", "resource": "https://vault.azure.net", **selectors},
    )


def test_every_metadata_answer_names_imds_in_the_server_header(imds: ImdsService) -> None:
    for answer in (
        v1(imds),
        get(imds, TOKEN, {}, metadata=False),
        get(imds, "/metadata/nothing", {}),
    ):
        assert answer.headers["Server"] == "IMDS/150.870.65.1854"


def test_missing_metadata_header_is_the_documented_400(imds: ImdsService) -> None:
    answer = get(
        imds,
        TOKEN,
        {"api-version": "2018-02-01", "resource": "https://vault.azure.net"},
        metadata=False,
    )
    assert answer.status == 400
    assert body(answer) == {
        "error": "invalid_request",
        "error_description": "Required metadata header not specified",
    }


def test_system_assigned_token_body_has_string_values(
    imds: ImdsService, state: EmulatorState
) -> None:
    answer = v1(imds)
    assert answer.status == 200
    payload = body(answer)
    system = state.find_managed_identity()
    assert payload["client_id"] == system.client_id
    assert payload["token_type"] == "Bearer"
    assert payload["resource"] == "https://vault.azure.net"
    for name in ("expires_in", "expires_on", "ext_expires_in", "not_before"):
        assert isinstance(payload[name], str)
        assert payload[name].isdigit()
    assert int(payload["expires_on"]) - int(payload["not_before"]) == int(payload["expires_in"])


@pytest.mark.parametrize("parameter", ["client_id", "object_id", "msi_res_id", "mi_res_id"])
def test_user_assigned_by_each_selector(
    imds: ImdsService, state: EmulatorState, parameter: str
) -> None:
    user = next(mi for mi in state.managed_identities if mi.kind == "UserAssigned")
    value = {"client_id": user.client_id, "object_id": user.object_id}.get(
        parameter, user.resource_id
    )
    answer = v1(imds, **{parameter: value})
    assert answer.status == 200
    assert body(answer)["client_id"] == user.client_id


def test_unknown_identity_is_400_identity_not_found(imds: ImdsService) -> None:
    answer = v1(imds, client_id="00000000-0000-0000-0000-000000000000")
    assert answer.status == 400
    assert body(answer) == {"error": "invalid_request", "error_description": "Identity not found"}


def test_two_selectors_are_refused(imds: ImdsService, state: EmulatorState) -> None:
    user = next(mi for mi in state.managed_identities if mi.kind == "UserAssigned")
    assert v1(imds, client_id=user.client_id, object_id=user.object_id).status == 400


def test_unknown_resource_is_a_relayed_aadsts500011(imds: ImdsService) -> None:
    answer = get(imds, TOKEN, {"api-version": "2018-02-01", "resource": "api://nobody"})
    assert answer.status == 400
    payload = body(answer)
    assert payload["error"] == "invalid_resource"
    assert payload["error_codes"] == [500011]
    assert payload["error_description"].startswith("AADSTS500011")


def test_missing_api_version_or_resource(imds: ImdsService) -> None:
    assert get(imds, TOKEN, {"resource": "https://vault.azure.net"}).status == 400
    assert get(imds, TOKEN, {"api-version": "2018-02-01"}).status == 400


def test_faults_and_request_log(imds: ImdsService, state: EmulatorState) -> None:
    state.faults.inject("imds.token", [ScriptedResponse(410, "updating")])
    assert v1(imds).status == 410
    assert v1(imds).status == 200
    statuses = [entry["status"] for entry in state.request_log.entries("imds.token")]
    assert statuses == [410, 200]


def test_v1_only_mode_hides_getplatformmetadata(imds: ImdsService) -> None:
    path = "/metadata/identity/getplatformmetadata"
    assert get(imds, path, {"cred-api-version": "2.0"}).status == 200
    assert (
        get(imds, path, {"cred-api-version": "2.0"}, metadata=False).status == 400
    )  # probe: present
    imds.v2_enabled = False
    assert get(imds, path, {"cred-api-version": "2.0"}).status == 404
    assert (
        get(imds, path, {"cred-api-version": "2.0"}, metadata=False).status == 404
    )  # probe: absent
    assert v1(imds).status == 200


def test_platform_metadata_shape(imds: ImdsService, state: EmulatorState) -> None:
    payload = body(get(imds, "/metadata/identity/getplatformmetadata", {"cred-api-version": "2.0"}))
    assert set(payload) == {"cuId", "clientId", "tenantId", "attestationEndpoint"}
    assert payload["tenantId"] == state.tenant_id
    assert payload["cuId"] == {"vmId": imds.vm_id}


def test_issuecredential_refuses_a_bad_csr(
    imds: ImdsService, state: EmulatorState, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(state, "attestation_mode", AttestationMode.OFF)  # the CSR check alone
    request = EmulatorRequest(
        "POST",
        "/metadata/identity/issuecredential",
        {"cred-api-version": "2.0"},
        {"metadata": "true", "content-type": "application/json"},
        json.dumps({"csr": "AAAA", "attestation_token": ""}).encode(),
    )
    answer = imds.handle(request)
    assert answer.status == 400
    assert body(answer)["error"] == "invalid_request"
    assert "Invalid CSR" in body(answer)["error_description"]


def test_compute_metadata_for_region_discovery(imds: ImdsService) -> None:
    payload = body(get(imds, "/metadata/instance/compute", {"api-version": "2021-02-01"}))
    assert payload["location"] == "westus3"
    assert payload["securityProfile"] == {"securityType": "TrustedLaunch"}
    text = get(
        imds, "/metadata/instance/compute/location", {"format": "text", "api-version": "2021-02-01"}
    )
    assert (text.status, text.body) == (200, b"westus3")
