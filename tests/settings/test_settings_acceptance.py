"""Issue 2 acceptance: every Identity.Web key binds, .NET env forms, value typos, CLI shapes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from identity_web import ConfigurationError, TokenAcquirerFactory
from identity_web.cli import main
from identity_web.settings import (
    CredentialDescription,
    CredentialSource,
    IdentityWebSettings,
    load_settings,
)
from identity_web.settings._keys import ignored

GUID = "11111111-2222-3333-4444-555555555555"

FULL = {
    "AzureAd": {
        "Instance": "https://login.microsoftonline.com",
        "TenantId": "contoso.onmicrosoft.com",
        "ClientId": GUID,
        "AzureRegion": "westus3",
        "SendX5C": True,
        "ClientCapabilities": ["cp1"],
        "EnablePiiLogging": True,
        "ExtraQueryParameters": {"dc": "ESTS-PUB-WUS"},
        "ClientCredentials": [
            {
                "SourceType": "SignedAssertionFromManagedIdentity",
                "ManagedIdentityClientId": GUID,
                "TokenExchangeUrl": "api://AzureADTokenExchange",
                "TokenExchangeAuthority": "https://login.microsoftonline.com/t",
                "UseBoundCredential": True,
            },
            {"SourceType": "Path", "CertificateDiskPath": "/c/app.pfx", "CertificatePassword": "p"},
            {"SourceType": "Base64Encoded", "Base64EncodedValue": "MIIK", "Skip": True},
            {"SourceType": "ClientSecret", "ClientSecret": "s"},
            {"SourceType": "KeyVault", "KeyVaultUrl": "https://v", "KeyVaultCertificateName": "n"},
            {
                "SourceType": "StoreWithThumbprint",
                "CertificateStorePath": "CurrentUser/My",
                "CertificateThumbprint": "AB",
            },
            {"SourceType": "StoreWithDistinguishedName", "CertificateDistinguishedName": "CN=a"},
            {"SourceType": "StoreWithSubjectName", "CertificateSubjectName": "a"},
            {"SourceType": "SignedAssertionFilePath", "SignedAssertionFileDiskPath": "/t/jwt"},
            {
                "SourceType": "CustomSignedAssertion",
                "CustomSignedAssertionProviderName": "Oidc",
                "CustomSignedAssertionProviderData": {"ConfigurationSection": "X"},
                "Algorithm": "PS256",
            },
        ],
    },
    "MyApi": {
        "BaseUrl": "https://api.example.com/",
        "RelativePath": "items",
        "Scopes": ["api://my/.default"],
        "HttpMethod": "Post",
        "ProtocolScheme": "MTLS_POP",
        "RequestAppToken": True,
        "AcquireTokenOptions": {
            "ManagedIdentity": {"UserAssignedClientId": GUID},
            "Tenant": "fabrikam",
            "ForceRefresh": True,
            "Claims": '{"access_token":{}}',
            "CorrelationId": GUID,
            "ExtraQueryParameters": {"slice": "test"},
            "ExtraHeadersParameters": {"x-token-header": "1"},
        },
        "ExtraHeaderParameters": {"x-ms-tokenboundauth": "true"},
        "ExtraQueryParameters": {"api-version": "7.6"},
        "AcceptHeader": "application/xml",
        "ContentType": "text/plain",
    },
}


def test_every_key_the_issue_names_binds_to_its_attribute() -> None:
    settings = IdentityWebSettings.from_mapping(FULL)
    app = settings.azure_ad
    assert app.effective_authority() == "https://login.microsoftonline.com/contoso.onmicrosoft.com/"
    assert (app.client_id, app.azure_region, app.send_x5c) == (GUID, "westus3", True)
    assert (app.client_capabilities, app.enable_pii_logging) == (("cp1",), True)
    assert app.extra_query_parameters == {"dc": "ESTS-PUB-WUS"}
    mi, path, b64, secret, vault, thumb, dn, subject, file, custom = app.client_credentials
    assert (mi.managed_identity_client_id, mi.token_exchange_url) == (
        GUID,
        "api://AzureADTokenExchange",
    )
    assert mi.token_exchange_authority == "https://login.microsoftonline.com/t"
    assert mi.use_bound_credential
    assert (path.certificate_disk_path, path.certificate_password) == ("/c/app.pfx", "p")
    assert (b64.base64_encoded_value, b64.skip) == ("MIIK", True)
    assert secret.client_secret == "s"
    assert (vault.key_vault_url, vault.key_vault_certificate_name) == ("https://v", "n")
    assert (thumb.certificate_store_path, thumb.certificate_thumbprint) == ("CurrentUser/My", "AB")
    assert dn.certificate_distinguished_name == "CN=a"
    assert subject.certificate_subject_name == "a"
    assert file.signed_assertion_file_disk_path == "/t/jwt"
    assert custom.custom_signed_assertion_provider_name == "Oidc"
    assert custom.custom_signed_assertion_provider_data == {"ConfigurationSection": "X"}
    assert custom.algorithm == "PS256"
    api = settings.downstream_api("myapi")
    assert (api.base_url, api.relative_path, api.scopes) == (
        "https://api.example.com/",
        "items",
        ("api://my/.default",),
    )
    assert (api.http_method, api.is_mtls_pop, api.request_app_token) == ("Post", True, True)
    options = api.acquire_token_options
    assert options.managed_identity is not None
    assert options.managed_identity.user_assigned_client_id == GUID
    assert (options.tenant, options.force_refresh, options.claims) == (
        "fabrikam",
        True,
        '{"access_token":{}}',
    )
    assert options.correlation_id == GUID
    assert options.extra_query_parameters == {"slice": "test"}
    assert options.extra_headers_parameters == {"x-token-header": "1"}
    assert api.extra_header_parameters == {"x-ms-tokenboundauth": "true"}
    assert api.extra_query_parameters == {"api-version": "7.6"}
    assert (api.accept_header, api.content_type) == ("application/xml", "text/plain")


# Every configurable field of Identity.Web's CredentialDescription (reference §2.5).
CREDENTIAL_DESCRIPTION_KEYS = (
    *("SourceType", "KeyVaultUrl", "KeyVaultCertificateName", "CertificateStorePath"),
    *("CertificateThumbprint", "CertificateDistinguishedName", "CertificateSubjectName"),
    *("CertificateDiskPath", "CertificatePassword", "Base64EncodedValue", "ClientSecret"),
    *("ManagedIdentityClientId", "TokenExchangeUrl", "TokenExchangeAuthority"),
    *("SignedAssertionFileDiskPath", "CustomSignedAssertionProviderName"),
    *("CustomSignedAssertionProviderData", "Algorithm", "Skip", "UseBoundCredential"),
)
# Identity.Web keys of CredentialDescription that a daemon never uses: accepted, ignored.
NOT_MODELLED = ("DecryptKeysAuthenticationOptions",)  # AutoDecryptKeys: web-API token decryption


def test_credential_description_knows_every_identity_web_field() -> None:
    assert set(CredentialDescription.known_keys()) == set(CREDENTIAL_DESCRIPTION_KEYS)
    for key in NOT_MODELLED:
        assert ignored(CredentialDescription, key)
    entry = {"SourceType": "AutoDecryptKeys", "DecryptKeysAuthenticationOptions": {"x": 1}}
    settings = IdentityWebSettings.from_mapping({"AzureAd": {"ClientCredentials": [entry]}})
    assert settings.azure_ad.client_credentials[0].source_type is CredentialSource.AutoDecryptKeys


def test_environment_variables_in_the_forms_the_issue_names(tmp_path: Path) -> None:
    environ = {
        "AzureAd__ClientId": "from-env",
        "AzureAd__ClientCredentials__0__SourceType": "ClientSecret",
        "AzureAd__ClientCredentials__0__ClientSecret": "s",
        "MyApi__Scopes__0": "api://a/.default",
        "MyApi__BaseUrl": "https://a",
    }
    loaded = load_settings(tmp_path, environ=environ)
    app = loaded.settings.azure_ad
    assert app.client_id == "from-env"
    (credential,) = app.client_credentials
    assert credential.source_type is CredentialSource.ClientSecret
    assert loaded.settings.downstream_api("MyApi").scopes == ("api://a/.default",)
    assert loaded.sources["AzureAd.ClientCredentials[0].SourceType"] == "env"
    assert loaded.sources["MyApi.Scopes[0]"] == "env"


def api_problems(**keys: str) -> dict[str, str]:
    data = {"MyApi": {"BaseUrl": "https://a", **keys}}
    with pytest.raises(ConfigurationError) as caught:
        IdentityWebSettings.from_mapping(data)
    return {problem.path: problem.message for problem in caught.value.problems}


@pytest.mark.parametrize(
    ("key", "value", "suggestion"),
    [
        ("ProtocolScheme", "MTLS-POP", "MTLS_POP"),
        ("ProtocolScheme", "mtlspop", "MTLS_POP"),
        ("ProtocolScheme", "Baerer", "Bearer"),
        ("HttpMethod", "Gett", "Get"),
        ("HttpMethod", "Postt", "Post"),
    ],
)
def test_misspelt_known_values_get_a_did_you_mean(key: str, value: str, suggestion: str) -> None:
    message = api_problems(**{key: value})[f"MyApi.{key}"]
    assert f"found {value!r}" in message
    assert message.endswith(f"did you mean {suggestion}?")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ProtocolScheme", "mtls_pop"),
        ("ProtocolScheme", " Bearer "),
        ("HttpMethod", "PATCH"),
        ("HttpMethod", "PROPFIND"),
    ],
)
def test_exact_or_unrelated_values_are_accepted(key: str, value: str) -> None:
    settings = IdentityWebSettings.from_mapping({"MyApi": {"BaseUrl": "https://a", key: value}})
    assert settings.downstream_api("MyApi").base_url == "https://a"


def test_factory_raises_configuration_error_listing_every_problem(tmp_path: Path) -> None:
    broken = {
        "AzureAd": {"ClientCredentials": [{"SourceType": "Pathh"}], "TenantID2": "x"},
        "MyApi": {"BaseUrl": "https://a", "ProtocolScheme": "MTLS_POOP"},
    }
    (tmp_path / "appsettings.json").write_text(json.dumps(broken), encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        TokenAcquirerFactory.from_config_dir(tmp_path, environ={})
    paths = [problem.path for problem in caught.value.problems]
    assert sorted(paths) == [
        "AzureAd.ClientCredentials[0].SourceType",
        "AzureAd.TenantID2",
        "MyApi.ProtocolScheme",
    ]
    assert "did you mean Path?" in str(caught.value)
    assert "did you mean TenantId?" in str(caught.value)


# ---- `identity-web config validate --json`: the shapes of CONTRACTS.md, exactly --------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if "__" in name or name in ("IDENTITYWEB_ENVIRONMENT", "DOTNET_ENVIRONMENT"):
            monkeypatch.delenv(name)


def validate(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main(["config", "validate", "--config-dir", str(directory), "--json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.usefixtures("clean_environment")
def test_validate_json_valid_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config: dict[str, Any] = json.loads(json.dumps(FULL))
    config["MyApi"]["ExtraHeaderParameters"] = {
        "Authorization": "Basic dXNlcjpwYXNz",
        "X-Api-Key": "key-123",
        "x-ms-tokenboundauth": "true",
    }
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    code, output = validate(tmp_path, capsys)
    assert code == 0
    assert set(output) == {"valid", "settings", "sources"}
    assert output["valid"] is True
    assert set(output["settings"]) == {"AzureAd", "MyApi"}
    assert all(isinstance(source, str) for source in output["sources"].values())
    assert output["sources"]["MyApi.ExtraHeaderParameters.X-Api-Key"] == "appsettings.json"
    headers = output["settings"]["MyApi"]["ExtraHeaderParameters"]
    assert headers == {"Authorization": "***", "X-Api-Key": "***", "x-ms-tokenboundauth": "true"}
    text = json.dumps(output)
    for secret in ("dXNlcjpwYXNz", "key-123", '"p"', '"s"', "MIIK"):
        assert secret not in text


@pytest.mark.usefixtures("clean_environment")
def test_validate_json_invalid_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = {"AzureAd": {"ClientCredentials": [{"SourceType": "KeyVolt"}]}}
    (tmp_path / "appsettings.json").write_text(json.dumps(broken), encoding="utf-8")
    code, output = validate(tmp_path, capsys)
    assert code == 2
    assert output == {
        "valid": False,
        "errors": [
            {
                "path": "AzureAd.ClientCredentials[0].SourceType",
                "message": output["errors"][0]["message"],
            }
        ],
    }
    assert "did you mean KeyVault?" in output["errors"][0]["message"]
