"""Other libraries accept the emulator's IMDS; `identity-web probe-mi` reports what it finds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jwt
import msal
import pytest
import requests
from azure.identity import ManagedIdentityCredential

from identity_web.cli import main
from identity_web.cli._probe import probe, render_text
from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.transport import ConnectTo, HttpTransport

RESOURCE = "https://vault.azure.net"


def appid(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["appid"])


@pytest.fixture
def peer_env(emulator: Any, clean_mi_environment: pytest.MonkeyPatch) -> Any:
    clean_mi_environment.setenv(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.manifest.imds_endpoint
    )
    return emulator


def test_msal_python_system_assigned(peer_env: Any) -> None:
    client = msal.ManagedIdentityClient(
        msal.SystemAssignedManagedIdentity(), http_client=requests.Session()
    )
    result = client.acquire_token_for_client(resource=RESOURCE)
    assert "access_token" in result, result.get("error_description")
    assert result["token_type"] == "Bearer"
    assert appid(result["access_token"]) == peer_env.state.find_managed_identity().client_id
    assert peer_env.requests("imds.token")[0]["query"]["api-version"] == "2018-02-01"


def test_msal_python_user_assigned(peer_env: Any) -> None:
    user = next(mi for mi in peer_env.state.managed_identities if mi.kind == "UserAssigned")
    identity = msal.UserAssignedManagedIdentity(client_id=user.client_id)
    result = msal.ManagedIdentityClient(
        identity, http_client=requests.Session()
    ).acquire_token_for_client(resource=RESOURCE)
    assert appid(result["access_token"]) == user.client_id


def test_azure_identity_system_and_user_assigned(peer_env: Any) -> None:
    token = ManagedIdentityCredential().get_token(f"{RESOURCE}/.default")
    assert appid(token.token) == peer_env.state.find_managed_identity().client_id
    user = next(mi for mi in peer_env.state.managed_identities if mi.kind == "UserAssigned")
    token = ManagedIdentityCredential(client_id=user.client_id).get_token(f"{RESOURCE}/.default")
    assert appid(token.token) == user.client_id
    assert token.expires_on > 0


# --- probe-mi ----------------------------------------------------------------------------


def test_probe_finds_imds_v1_and_v2(emulator: Any) -> None:
    environ = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": emulator.manifest.imds_endpoint}
    with HttpTransport() as transport:
        report = probe(environ, transport, arc_agent_path="/nonexistent")
    assert report.source == "IMDS"
    assert report.imds_v1.available
    assert report.imds_v1.status == 400
    assert report.imds_v2.available
    assert report.imds_v2.status == 400
    assert report.available
    assert emulator.requests("imds.issuecredential") == []
    assert all(e["status"] == 400 for e in emulator.requests())  # no token was issued
    assert "v2 (mTLS PoP):   answers" in render_text(report)


def test_probe_reaches_169_254_169_254_and_names_region_and_providers(emulator: Any) -> None:
    """Through the resolver seam, as on a VM; the region, key kind, attestation mode and what a
    bound token needs here are in the report."""
    manifest = emulator.manifest
    environ = {"REGION_NAME": "westus3", "IDENTITY_WEB_MI_ATTESTATION": "software"}
    seam = ConnectTo.of(manifest.resolve, manifest.resolve_wildcards)
    with HttpTransport(connect_to=seam) as transport:
        report = probe(environ, transport, arc_agent_path="/nonexistent")
    assert report.imds_endpoint == "http://169.254.169.254"
    assert report.imds_v2.available
    assert (report.region, report.key_provider, report.attestation) == (
        "westus3",
        "software-rsa",
        "software",
    )
    assert report.to_json()["bound_token_needs"] == "IMDS v2 answers; keys are attested (software)"
    assert {e["headers"]["host"] for e in emulator.requests()} == {"169.254.169.254"}
    assert "Key provider: software-rsa; attestation: software" in render_text(report)


def test_probe_reports_a_v1_only_host() -> None:
    with Emulator(EmulatorConfig(imds_v2_enabled=False)) as emulator, HttpTransport() as transport:
        environ = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": emulator.manifest.imds_endpoint}
        report = probe(environ, transport, arc_agent_path="/nonexistent")
    assert report.imds_v1.available
    assert not report.imds_v2.available
    assert report.imds_v2.status == 404


def test_probe_without_imds_is_quick_and_unusable() -> None:
    with HttpTransport() as transport:
        report = probe(
            {"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:9"}, transport, timeout=0.5
        )
    assert not report.available
    assert report.imds_v1.status is None
    assert "127.0.0.1:9" in str(report.imds_v1.error)


def test_probe_mi_cli_json_masks_secrets(
    emulator: Any, clean_mi_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in emulator.hosting_environment("app_service").items():
        clean_mi_environment.setenv(name, value)
    clean_mi_environment.setenv(
        "AZURE_POD_IDENTITY_AUTHORITY_HOST", emulator.manifest.imds_endpoint
    )
    clean_mi_environment.setenv(
        "AZURE_FEDERATED_TOKEN_FILE", "/var/run/secrets/azure/tokens/azure-identity-token"
    )
    assert main(["probe-mi", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["source"] == "AppService"
    assert report["variables"]["IDENTITY_HEADER"] == "***"
    assert report["variables"]["IDENTITY_ENDPOINT"].endswith("/msi/token")
    assert report["imds_v1"]["available"] is True
    assert report["workload_identity"] == {
        "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token"
    }
    assert report["available"] is True


def test_probe_mi_cli_text_exit_code(
    clean_mi_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    clean_mi_environment.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
    assert main(["probe-mi", "--timeout", "0.5"]) == 1
    out = capsys.readouterr().out
    assert "Managed identity source: IMDS" in out
    assert "Usable: no" in out


@pytest.mark.parametrize(
    ("attestation", "reported"),
    [("Software", "software"), ("KeyGuard", "invalid (AzureAd.ManagedIdentity.Attestation")],
)
def test_probe_mi_reports_the_providers_the_settings_name(
    clean_mi_environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    attestation: str,
    reported: str,
) -> None:
    clean_mi_environment.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", "http://127.0.0.1:9")
    clean_mi_environment.delenv("IDENTITY_WEB_MI_ATTESTATION", raising=False)
    settings = {"AzureAd": {"ManagedIdentity": {"Attestation": attestation}}}
    (tmp_path / "appsettings.json").write_text(json.dumps(settings), encoding="utf-8")
    main(["probe-mi", "--json", "--timeout", "0.2", "--config-dir", str(tmp_path)])
    assert json.loads(capsys.readouterr().out)["attestation"].startswith(reported)
