"""The variables Azure sets (AZURE_CLIENT_ID …) fill only what no setting gives, and say so."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from identity_web.cli import main
from identity_web.settings import CredentialSource, load_settings

CLIENT = "11111111-2222-3333-4444-555555555555"
AKS = {
    "AZURE_CLIENT_ID": CLIENT,
    "AZURE_TENANT_ID": "contoso.onmicrosoft.com",
    "AZURE_AUTHORITY_HOST": "https://login.microsoftonline.us",
    "AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token",
}


def write(directory: Path, config: dict[str, Any]) -> Path:
    (directory / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    return directory


def test_the_four_variables_alone_make_a_workload_identity_app(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, environ=AKS)
    app = loaded.settings.azure_ad
    assert (app.client_id, app.tenant_id) == (CLIENT, "contoso.onmicrosoft.com")
    assert app.effective_instance() == "https://login.microsoftonline.us/"
    (entry,) = app.client_credentials
    assert entry.source_type is CredentialSource.SignedAssertionFilePath
    assert entry.signed_assertion_file_disk_path == AKS["AZURE_FEDERATED_TOKEN_FILE"]
    assert loaded.source_of("AzureAd.ClientId") == "env AZURE_CLIENT_ID"
    assert loaded.source_of("AzureAd.Instance") == "env AZURE_AUTHORITY_HOST"
    assert (
        loaded.source_of("AzureAd.ClientCredentials[0].SourceType")
        == "env AZURE_FEDERATED_TOKEN_FILE"
    )


def test_explicit_settings_always_win(tmp_path: Path) -> None:
    config = {
        "AzureAd": {
            "Instance": "https://login.microsoftonline.com/",
            "ClientCredentials": [{"SourceType": "ClientSecret", "ClientSecret": "s"}],
        }
    }
    environ = {**AKS, "AzureAd__TenantId": "from-section-variable"}
    loaded = load_settings(write(tmp_path, config), environ=environ)
    app = loaded.settings.azure_ad
    assert app.instance == "https://login.microsoftonline.com/"
    assert app.tenant_id == "from-section-variable"
    assert [c.source_type for c in app.client_credentials] == [CredentialSource.ClientSecret]
    assert app.client_id == CLIENT  # the one key nothing else set
    assert loaded.source_of("AzureAd.TenantId") == "env"
    assert loaded.source_of("AzureAd.Instance") == "appsettings.json"


def test_explicit_arguments_win_too(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, environ=AKS, overrides={"AzureAd": {"ClientId": "mine"}})
    assert loaded.settings.azure_ad.client_id == "mine"
    assert loaded.source_of("AzureAd.ClientId") == "arguments"


def test_an_authority_keeps_tenant_and_host_out(tmp_path: Path) -> None:
    config = {"AzureAd": {"Authority": "https://login.microsoftonline.com/fabrikam/"}}
    app = load_settings(write(tmp_path, config), environ=AKS).settings.azure_ad
    assert (app.instance, app.tenant_id) == (None, None)
    assert app.effective_authority() == "https://login.microsoftonline.com/fabrikam/"


def test_the_process_environment_beats_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("AZURE_CLIENT_ID=from-dotenv\nAZURE_TENANT_ID=t-dotenv\n")
    loaded = load_settings(tmp_path, environ={"AZURE_CLIENT_ID": CLIENT})
    assert loaded.settings.azure_ad.client_id == CLIENT
    assert loaded.settings.azure_ad.tenant_id == "t-dotenv"
    assert loaded.source_of("AzureAd.TenantId") == ".env AZURE_TENANT_ID"


def test_blank_variables_are_ignored(tmp_path: Path) -> None:
    app = load_settings(tmp_path, environ={"AZURE_CLIENT_ID": "  "}).settings.azure_ad
    assert app.client_id is None


MI_CONFIG: dict[str, Any] = {
    "AzureAd": {
        "ClientId": "the-app",
        "ClientCredentials": [
            {"SourceType": "SignedAssertionFromManagedIdentity"},
            {
                "SourceType": "KeyVault",
                "KeyVaultUrl": "https://v.vault.azure.net",
                "KeyVaultCertificateName": "c",
            },
            {"SourceType": "KeyVault", "ManagedIdentityClientId": "explicit"},
        ],
    },
    "SystemMi": {"BaseUrl": "https://api/", "Scopes": ["api://a/.default"],
                 "RequestAppToken": True, "AcquireTokenOptions": {"ManagedIdentity": {}}},
    "DownstreamApis": {
        "ByObjectId": {"BaseUrl": "https://api/", "Scopes": ["api://a/.default"],
                       "AcquireTokenOptions": {"ManagedIdentity": {"UserAssignedObjectId": "o"}}},
    },
}  # fmt: skip


def test_azure_client_id_selects_the_user_assigned_identity_where_none_is_named(
    tmp_path: Path,
) -> None:
    loaded = load_settings(write(tmp_path, MI_CONFIG), environ={"AZURE_CLIENT_ID": CLIENT})
    settings = loaded.settings
    fic, vault, explicit = settings.azure_ad.client_credentials
    assert (fic.managed_identity_client_id, vault.managed_identity_client_id) == (CLIENT, CLIENT)
    assert explicit.managed_identity_client_id == "explicit"
    system = settings.downstream_api("SystemMi").acquire_token_options.managed_identity
    assert system is not None
    assert system.user_assigned_client_id == CLIENT
    by_object = settings.downstream_api("ByObjectId").acquire_token_options.managed_identity
    assert by_object is not None
    assert (by_object.user_assigned_client_id, by_object.user_assigned_object_id) == (None, "o")
    assert (
        loaded.source_of("SystemMi.AcquireTokenOptions.ManagedIdentity.UserAssignedClientId")
        == "env AZURE_CLIENT_ID"
    )
    assert settings.azure_ad.client_id == "the-app"


def test_a_federated_credential_never_uses_the_app_itself_as_its_identity(tmp_path: Path) -> None:
    config = {
        "AzureAd": {"ClientCredentials": [{"SourceType": "SignedAssertionFromManagedIdentity"}]}
    }
    app = load_settings(write(tmp_path, config), environ={"AZURE_CLIENT_ID": CLIENT}).settings
    assert app.azure_ad.client_id == CLIENT
    assert app.azure_ad.client_credentials[0].managed_identity_client_id is None


def test_config_validate_shows_the_variable_as_the_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in list(os.environ):
        if "__" in name or name.startswith("AZURE_"):
            monkeypatch.delenv(name)
    for name, value in AKS.items():
        monkeypatch.setenv(name, value)
    assert main(["config", "validate", "--json", "--config-dir", str(tmp_path)]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["sources"]["AzureAd.ClientId"] == "env AZURE_CLIENT_ID"
    assert output["sources"]["AzureAd.TenantId"] == "env AZURE_TENANT_ID"
    assert output["settings"]["AzureAd"]["ClientId"] == CLIENT
    assert main(["config", "validate", "--config-dir", str(tmp_path)]) == 0
    text = capsys.readouterr().out
    assert "[env AZURE_FEDERATED_TOKEN_FILE]" in text
