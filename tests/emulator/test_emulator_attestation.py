"""The emulator's attestation authority and the three attestation modes of issuecredential."""

from __future__ import annotations

import base64
import json

import emulator_testkit as kit
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from identity_web._errors import ConfigurationError
from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.emulator._attestation import AttestationAuthority

ISSUE = "/metadata/identity/issuecredential"
MISSING = "Attestation Token is missing / empty in the issue credential request"


def attest(emulator: Emulator, csr: str) -> httpx.Response:
    """The test side of the authority's protocol: the CSR in, `{"token": ...}` out."""
    with kit.client(emulator) as http:
        return http.post(
            f"{emulator.manifest.attestation_endpoint}/attest/software", json={"csr": csr}
        )


def issue(emulator: Emulator, body: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{emulator.manifest.imds_endpoint}{ISSUE}",
        params={"cred-api-version": "2.0"},
        headers={"Metadata": "true"},
        json=body,
        timeout=10,
    )


def attested_body(emulator: Emulator) -> dict[str, str]:
    key = kit.new_key()
    csr = kit.csr(emulator, key)
    token = attest(emulator, csr).json()["token"]
    return {"csr": csr, "attestation_token": token}


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def test_platform_metadata_names_the_authority(emulator: Emulator) -> None:
    endpoint = emulator.manifest.attestation_endpoint
    assert endpoint.startswith("https://127.0.0.1:")
    assert kit.platform_metadata(emulator)["attestationEndpoint"] == endpoint
    assert emulator.manifest.attestation_mode == "required"  # the default for mTLS PoP


def test_authority_signs_a_token_for_the_csr_key_verifiable_with_its_jwks(
    emulator: Emulator,
) -> None:
    key = kit.new_key()
    response = attest(emulator, kit.csr(emulator, key))
    assert response.status_code == 200, response.text
    token = response.json()["token"]
    header_b64, claims_b64, signature = token.split(".")
    header, claims = json.loads(_b64(header_b64)), json.loads(_b64(claims_b64))
    with kit.client(emulator) as http:
        jwks = http.get(f"{emulator.manifest.attestation_endpoint}/certs").json()
    (jwk,) = [k for k in jwks["keys"] if k["kid"] == header["kid"]]
    public = rsa.RSAPublicNumbers(
        int.from_bytes(_b64(jwk["e"]), "big"), int.from_bytes(_b64(jwk["n"]), "big")
    ).public_key()
    public.verify(
        _b64(signature), f"{header_b64}.{claims_b64}".encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert claims["iss"] == emulator.manifest.attestation_endpoint
    assert claims["exp"] - claims["iat"] == 8 * 3600
    numbers = key.public_key().public_numbers()
    attested = claims["x-ms-runtime"]["keys"][0]
    assert int.from_bytes(_b64(attested["n"]), "big") == numbers.n


@pytest.mark.parametrize("body", [{}, {"csr": "not base64!"}, {"csr": "AAAA"}])
def test_authority_refuses_a_request_without_a_verifiable_csr(
    emulator: Emulator, body: dict[str, str]
) -> None:
    with kit.client(emulator) as http:
        response = http.post(f"{emulator.manifest.attestation_endpoint}/attest/software", json=body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "InvalidParameter"


# --- the three modes ---------------------------------------------------------------------------


def test_required_refuses_a_missing_or_empty_token(emulator: Emulator) -> None:
    emulator.set_attestation_mode("required")
    for body in (
        kit.issue_credential_body(emulator),
        kit.issue_credential_body(emulator, None, ""),
    ):
        response = issue(emulator, body)
        assert response.status_code == 400
        assert response.json() == {"error": "invalid_request", "error_description": MISSING}
        assert response.headers["server"].startswith("IMDS/")


def test_required_accepts_a_token_from_the_authority_for_the_csr_key(emulator: Emulator) -> None:
    emulator.set_attestation_mode("required")
    response = issue(emulator, attested_body(emulator))
    assert response.status_code == 200, response.text
    assert emulator.requests("imds.issuecredential")[-1]["form"]["attestation_token"] == "***"


def test_required_refuses_a_token_for_another_key(emulator: Emulator) -> None:
    emulator.set_attestation_mode("required")
    token = attested_body(emulator)["attestation_token"]
    response = issue(emulator, kit.issue_credential_body(emulator, kit.new_key(), token))
    assert response.status_code == 400
    assert "another key" in response.json()["error_description"]


def test_required_refuses_a_token_of_another_authority(emulator: Emulator) -> None:
    emulator.set_attestation_mode("required")
    forger = AttestationAuthority(emulator.state.clock.now)
    forger.endpoint = emulator.manifest.attestation_endpoint
    forger.kid = emulator.state.attestation.kid  # same name, different key
    key = kit.new_key()
    body = kit.issue_credential_body(emulator, key, forger.issue(key.public_key()))
    response = issue(emulator, body)
    assert response.status_code == 400
    assert "signature" in response.json()["error_description"]


def test_required_refuses_an_expired_token(emulator: Emulator) -> None:
    emulator.set_attestation_mode("required")
    body = attested_body(emulator)
    emulator.state.clock.shift(8 * 3600 + 1)
    response = issue(emulator, body)
    assert response.status_code == 400
    assert "validity" in response.json()["error_description"]


def test_optional_accepts_none_and_checks_one_that_is_sent(emulator: Emulator) -> None:
    emulator.set_attestation_mode("optional")
    assert issue(emulator, kit.issue_credential_body(emulator)).status_code == 200
    assert issue(emulator, kit.issue_credential_body(emulator, None, "")).status_code == 200
    assert issue(emulator, attested_body(emulator)).status_code == 200
    garbage = issue(emulator, kit.issue_credential_body(emulator, None, "maa.jwt.token"))
    assert garbage.status_code == 400
    assert garbage.json()["error_description"].startswith("Attestation Token is invalid")


def test_off_ignores_the_token(emulator: Emulator) -> None:
    emulator.set_attestation_mode("off")
    for token in (None, "", "maa.jwt.token"):
        body = kit.issue_credential_body(emulator, None, token)
        assert issue(emulator, body).status_code == 200


def test_reset_restores_the_configured_mode(emulator: Emulator) -> None:
    emulator.set_attestation_mode("off")
    emulator.reset()
    response = issue(emulator, kit.issue_credential_body(emulator))
    assert response.json()["error_description"] == MISSING  # `required`, as configured


# --- settings: config, admin API ---------------------------------------------------------------


def test_admin_api_sets_the_mode_and_refuses_unknown_values(emulator: Emulator) -> None:
    url = emulator.manifest.admin_url + "settings"
    with kit.client(emulator) as http:
        assert http.get(url).json()["attestation_mode"] == "required"
        bad = http.patch(url, json={"attestation_mode": "strict"})
        assert bad.status_code == 400
        assert http.get(url).json()["attestation_mode"] == "required"
        changed = http.patch(url, json={"attestation_mode": "optional"})
        assert changed.json()["attestation_mode"] == "optional"
    response = issue(emulator, kit.issue_credential_body(emulator))
    assert response.status_code == 200


def test_admin_api_switches_an_apps_mtls_enrolment(emulator: Emulator) -> None:
    url = emulator.manifest.admin_url + "settings"
    app = emulator.demo_app
    with kit.client(emulator) as http:
        off = http.patch(url, json={"mtls_client_auth": {app.client_id: False}})
        assert off.json()["mtls_client_auth"][app.client_id] is False
        try:
            with kit.client(emulator, emulator.demo_credential) as mtls:
                refused = mtls.post(kit.mtls_url(emulator), data=kit.form(emulator))
        finally:
            http.patch(url, json={"mtls_client_auth": {app.client_id: True}})
        assert http.patch(url, json={"mtls_client_auth": {"nobody": True}}).status_code == 400
    kit.assert_ests_error(refused, status=400, code=51000, error="invalid_request")


def test_config_file_sets_the_mode_and_names_a_bad_value() -> None:
    assert EmulatorConfig.from_mapping({"attestation_mode": "required"}).attestation_mode == (
        "required"
    )
    with pytest.raises(ConfigurationError, match="attestation_mode"):
        EmulatorConfig.from_mapping({"attestation_mode": "strict"})
    with Emulator(EmulatorConfig(attestation_mode="required")) as emulator:
        assert emulator.manifest.attestation_mode == "required"
        response = issue(emulator, kit.issue_credential_body(emulator))
        assert response.json()["error_description"] == MISSING
