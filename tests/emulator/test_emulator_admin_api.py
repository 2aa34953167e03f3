"""Admin API (`/_emulator/`): request log and scripted faults, over HTTP and from Python."""

from __future__ import annotations

import time

import emulator_testkit as kit
import httpx

from identity_web.emulator import Emulator


def _token(emulator: Emulator, http: httpx.Client, **fields: str) -> httpx.Response:
    app = emulator.manifest.apps[0]
    return http.post(
        kit.token_url(emulator), data=kit.form(emulator, client_secret=app.client_secret, **fields)
    )


def test_request_log_lists_fields_without_secrets(emulator: Emulator) -> None:
    secret = emulator.manifest.apps[0].client_secret
    assert secret
    with kit.client(emulator) as http:
        _token(emulator, http)
        log = http.get(emulator.manifest.admin_url + "requests").json()
    (entry,) = log
    assert entry["endpoint"] == "entra.token"
    assert entry["method"] == "POST"
    assert entry["path"].endswith("/oauth2/v2.0/token")
    assert entry["form"]["client_id"] == emulator.demo_app.client_id
    assert entry["form"]["grant_type"] == "client_credentials"
    assert entry["form"]["client_secret"] == "***"
    assert entry["client_cert_x5t_s256"] is None
    assert entry["status"] == 200
    assert secret not in str(log)


def test_assertions_are_masked_in_the_log(emulator: Emulator) -> None:
    signed = kit.assertion(
        emulator.demo_credential, emulator.demo_app.client_id, kit.token_url(emulator)
    )
    with kit.client(emulator) as http:
        http.post(
            kit.token_url(emulator),
            data=kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed),
        )
    (entry,) = emulator.requests()
    assert entry["form"]["client_assertion"] == "***"
    assert signed not in str(emulator.requests())


def test_log_filter_and_delete(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        _token(emulator, http)
        http.get(f"{emulator.manifest.instance}{emulator.manifest.tenant_id}/discovery/v2.0/keys")
        only_tokens = http.get(
            emulator.manifest.admin_url + "requests", params={"endpoint": "entra.token"}
        )
        deleted = http.delete(emulator.manifest.admin_url + "requests")
        after = http.get(emulator.manifest.admin_url + "requests").json()
    assert [e["endpoint"] for e in only_tokens.json()] == ["entra.token"]
    assert deleted.status_code == 204
    assert after == []


def test_faults_are_served_in_order_then_normal_service_resumes(emulator: Emulator) -> None:
    faults = {
        "endpoint": "entra.token",
        "responses": [
            {"status": 503, "headers": {"Retry-After": "1"}, "body": "busy"},
            {"status": 429, "body": {"error": "throttled"}},
        ],
    }
    with kit.client(emulator) as http:
        posted = http.post(emulator.manifest.admin_url + "faults", json=faults)
        first, second, third = (_token(emulator, http) for _ in range(3))
    assert posted.status_code == 200
    assert (first.status_code, first.text, first.headers["retry-after"]) == (503, "busy", "1")
    assert second.status_code == 429
    assert second.json() == {"error": "throttled"}
    assert third.status_code == 200
    assert [e["status"] for e in emulator.requests("entra.token")] == [503, 429, 200]


def test_fault_delay_is_applied(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        posted = http.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "resource", "responses": [{"status": 500, "delay_ms": 300}]},
        )
        assert posted.status_code == 200
        started = time.monotonic()
        response = http.get(emulator.manifest.resource.base_url + "whoami")
    assert response.status_code == 500
    assert time.monotonic() - started >= 0.3


def test_delay_only_fault_then_serves_normally(emulator: Emulator) -> None:
    emulator.inject_faults("entra.token", [{"status": None, "delay_ms": 200}])
    with kit.client(emulator) as http:
        started = time.monotonic()
        response = _token(emulator, http)
    assert response.status_code == 200
    assert time.monotonic() - started >= 0.2


def test_faults_can_be_deleted(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        http.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "entra.mtls_token", "responses": [{"status": 500}]},
        )
        pending = http.get(emulator.manifest.admin_url + "faults").json()
        deleted = http.delete(emulator.manifest.admin_url + "faults")
        after = http.get(emulator.manifest.admin_url + "faults").json()
    assert pending == {"entra.mtls_token": 1}
    assert deleted.status_code == 204
    assert after == {}


def test_contract_endpoint_names_are_accepted_and_typos_refused(emulator: Emulator) -> None:
    names = [
        "imds.token",
        "imds.issuecredential",
        "imds.getplatformmetadata",
        "entra.token",
        "entra.mtls_token",
        "resource",
    ]
    with kit.client(emulator) as http:
        accepted = [
            http.post(
                emulator.manifest.admin_url + "faults", json={"endpoint": n, "responses": []}
            ).status_code
            for n in names
        ]
        typo = http.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "entra.tokens", "responses": [{"status": 500}]},
        )
        bad = http.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "resource", "responses": [{"status": "x"}]},
        )
    assert accepted == [200] * len(names)
    assert typo.status_code == 400
    assert "entra.token" in typo.json()["error_description"]
    assert bad.status_code == 400


def test_python_helpers_mirror_the_admin_api(emulator: Emulator) -> None:
    emulator.inject_faults("entra.token", [{"status": 500, "body": "boom"}])
    with kit.client(emulator) as http:
        assert _token(emulator, http).status_code == 500
    assert [e["status"] for e in emulator.requests()] == [500]
    emulator.clear_requests()
    assert emulator.requests() == []


def test_mtls_token_endpoint_faults_are_served_then_normal_service_resumes(
    emulator: Emulator,
) -> None:
    credential = emulator.demo_credential
    fault = {"status": 503, "headers": {"Retry-After": "2"}, "body": {"error": "temporarily"}}
    with kit.client(emulator) as admin:
        admin.post(
            emulator.manifest.admin_url + "faults",
            json={"endpoint": "entra.mtls_token", "responses": [fault]},
        )
    with kit.client(emulator, credential) as http:
        data = kit.form(emulator, token_type="mtls_pop")
        first, second = (http.post(kit.mtls_url(emulator), data=data) for _ in range(2))
    assert (first.status_code, first.headers["retry-after"]) == (503, "2")
    assert first.json() == {"error": "temporarily"}
    assert second.status_code == 200, second.text
    assert second.json()["token_type"] == "mtls_pop"
    logged = emulator.requests("entra.mtls_token")
    assert [(e["status"], e["client_cert_x5t_s256"]) for e in logged] == [
        (503, credential.x5t_s256),
        (200, credential.x5t_s256),
    ]
