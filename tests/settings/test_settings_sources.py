"""Sources and precedence: files, YAML, .env, environment variables, explicit arguments."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from identity_web import ConfigurationError
from identity_web.settings import CredentialSource, load_settings

# Lowest to highest.
SOURCES = (
    "defaults",
    "appsettings.json",
    "appsettings.Development.json",
    "appsettings.yaml",
    ".env",
    "env",
    "arguments",
)


class Layers:
    """Writes one value of `MyApi.AcceptHeader` into each chosen source."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.environ: dict[str, str] = {"IDENTITYWEB_ENVIRONMENT": "Development"}
        self.overrides: dict[str, Any] = {}

    def set(self, source: str, value: str) -> None:
        if source == "defaults":
            return
        if source.endswith(".json"):
            # Spell the keys differently in each file: they must still merge.
            key = "MyApi" if source == "appsettings.json" else "myapi"
            data = {key: {"AcceptHeader": value}}
            (self.directory / source).write_text(json.dumps(data), encoding="utf-8")
        elif source == "appsettings.yaml":
            (self.directory / source).write_text(
                f"MYAPI:\n  acceptheader: '{value}'\n", encoding="utf-8"
            )
        elif source == ".env":
            (self.directory / ".env").write_text(f"MyApi__AcceptHeader={value}\n", encoding="utf-8")
        elif source == "env":
            self.environ["MYAPI__ACCEPTHEADER"] = value
        elif source == "arguments":
            self.overrides = {"myApi": {"acceptHeader": value}}

    def load(self) -> Any:
        return load_settings(self.directory, environ=self.environ, overrides=self.overrides)


@pytest.mark.parametrize(("low", "high"), list(itertools.combinations(SOURCES, 2)))
def test_higher_source_wins(tmp_path: Path, low: str, high: str) -> None:
    layers = Layers(tmp_path)
    layers.set(low, f"text/{low}")
    layers.set(high, f"text/{high}")
    loaded = layers.load()
    expected = f"text/{high}"
    assert loaded.settings.downstream_api("MyApi").accept_header == expected
    assert loaded.source_of("MyApi.AcceptHeader") == high


def test_defaults_apply_when_no_source_sets_a_key(tmp_path: Path) -> None:
    loaded = load_settings(tmp_path, environ={}, overrides={"MyApi": {"BaseUrl": "https://a"}})
    assert loaded.settings.downstream_api("MyApi").accept_header == "application/json"
    assert loaded.source_of("MyApi.AcceptHeader") == "defaults"
    assert loaded.source_of("MyApi.BaseUrl") == "arguments"


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


CERT_APP = {
    "AzureAd": {
        "Instance": "https://login.microsoftonline.com/",
        "TenantId": "contoso",
        "ClientId": "app",
        "ClientCredentials": [
            {"SourceType": "Path", "CertificateDiskPath": "/certs/app.pfx"},
            {"SourceType": "ClientSecret", "ClientSecret": "dev-secret"},
        ],
    }
}


def test_env_list_index_merges_into_the_file_element(tmp_path: Path) -> None:
    write_json(tmp_path / "appsettings.json", CERT_APP)
    environ = {
        "AzureAd__ClientCredentials__0__CertificatePassword": "pw",
        "AZUREAD__CLIENTCREDENTIALS__1__SOURCETYPE": "KeyVault",
        "AzureAd__ClientCredentials__2__SourceType": "SignedAssertionFromManagedIdentity",
    }
    loaded = load_settings(tmp_path, environ=environ)
    first, second, third = loaded.settings.azure_ad.client_credentials
    assert first.source_type is CredentialSource.Path
    assert first.certificate_disk_path == "/certs/app.pfx"
    assert first.certificate_password == "pw"
    assert second.source_type is CredentialSource.KeyVault
    assert second.client_secret == "dev-secret"  # the file's element, merged, not replaced
    assert third.source_type is CredentialSource.SignedAssertionFromManagedIdentity
    assert loaded.sources["AzureAd.ClientCredentials[0].CertificatePassword"] == "env"
    assert loaded.sources["AzureAd.ClientCredentials[0].CertificateDiskPath"] == "appsettings.json"
    assert loaded.sources["AzureAd.ClientCredentials[1].SourceType"] == "env"


def test_env_list_index_builds_a_list_when_no_file_has_it(tmp_path: Path) -> None:
    environ = {"MyApi__Scopes__0": "api://a/.default", "MyApi__Scopes__1": "b"}
    loaded = load_settings(tmp_path, environ=environ)
    assert loaded.settings.downstream_api("myapi").scopes == ("api://a/.default", "b")


def test_file_lists_merge_by_index_like_dotnet(tmp_path: Path) -> None:
    write_json(tmp_path / "appsettings.json", CERT_APP)
    write_json(
        tmp_path / "appsettings.Production.json",
        {"azuread": {"clientcredentials": [{"SourceType": "KeyVault"}]}},
    )
    loaded = load_settings(tmp_path, environ={"DOTNET_ENVIRONMENT": "Production"})
    credentials = loaded.settings.azure_ad.client_credentials
    assert [c.source_type for c in credentials] == [
        CredentialSource.KeyVault,
        CredentialSource.ClientSecret,
    ]


def test_arguments_replace_lists(tmp_path: Path) -> None:
    write_json(tmp_path / "appsettings.json", CERT_APP)
    overrides = {"AzureAd": {"ClientCredentials": [{"SourceType": "KeyVault"}]}}
    loaded = load_settings(tmp_path, environ={}, overrides=overrides)
    (only,) = loaded.settings.azure_ad.client_credentials
    assert only.source_type is CredentialSource.KeyVault
    assert only.certificate_disk_path is None


def test_dict_keys_in_different_case_merge(tmp_path: Path) -> None:
    write_json(
        tmp_path / "appsettings.json",
        {
            "AzureAd": {"ClientId": "file", "ExtraQueryParameters": {"dc": "ESTS-PUB-WUS"}},
            "DownstreamApis": {"Graph": {"BaseUrl": "https://graph", "Scopes": ["g/.default"]}},
        },
    )
    (tmp_path / "appsettings.yaml").write_text(
        "azuread:\n  clientid: yaml\n  extraqueryparameters:\n    DC: override\n",
        encoding="utf-8",
    )
    environ = {"DOWNSTREAMAPIS__GRAPH__PROTOCOLSCHEME": "MTLS_POP"}
    loaded = load_settings(tmp_path, environ=environ)
    settings = loaded.settings
    assert list(settings.raw) == ["AzureAd", "DownstreamApis"]  # first spelling kept
    assert settings.azure_ad.client_id == "yaml"
    assert dict(settings.azure_ad.extra_query_parameters) == {"dc": "override"}
    graph = settings.downstream_api("graph")
    assert graph.base_url == "https://graph"
    assert graph.is_mtls_pop
    assert loaded.sources["AzureAd.ClientId"] == "appsettings.yaml"
    assert loaded.sources["DownstreamApis.Graph.ProtocolScheme"] == "env"


def test_yml_extension_is_read(tmp_path: Path) -> None:
    (tmp_path / "appsettings.yml").write_text("AzureAd:\n  ClientId: from-yml\n", encoding="utf-8")
    assert load_settings(tmp_path, environ={}).settings.azure_ad.client_id == "from-yml"


def test_environment_name_sources(tmp_path: Path) -> None:
    for name in ("Staging", "Development", "Explicit"):
        write_json(tmp_path / f"appsettings.{name}.json", {"AzureAd": {"ClientId": name}})
    both = {"IDENTITYWEB_ENVIRONMENT": "Staging", "DOTNET_ENVIRONMENT": "Development"}

    def client_id(**kwargs: Any) -> str | None:
        return load_settings(tmp_path, **kwargs).settings.azure_ad.client_id

    assert client_id(environ=both) == "Staging"
    assert client_id(environ={"DOTNET_ENVIRONMENT": "Development"}) == "Development"
    assert client_id(environ=both, environment="Explicit") == "Explicit"
    assert client_id(environ={}) is None
    loaded = load_settings(tmp_path, environ=both)
    assert loaded.environment == "Staging"
    assert loaded.source_of("AzureAd.ClientId") == "appsettings.Staging.json"


def test_which_environment_variables_bind(tmp_path: Path) -> None:
    write_json(tmp_path / "appsettings.json", {"AllowedHosts": "*", "Logging": {}})
    environ = {
        "AllowedHosts": "example.com",  # plain name of a section in the files: binds
        "HOME": "/root",  # plain name, no such section: ignored
        "Anything__Key": "v",  # contains __: binds
        "__CF_TEXT": "x",  # empty segment: ignored
    }
    raw = load_settings(tmp_path, environ=environ).settings.raw
    assert raw["AllowedHosts"] == "example.com"
    assert "HOME" not in raw
    assert raw["anything"]["key"] == "v"
    assert "" not in raw
    assert "CF_TEXT" not in raw


def test_env_scalar_does_not_erase_a_section(tmp_path: Path) -> None:
    write_json(tmp_path / "appsettings.json", {"AzureAd": {"ClientId": "c"}})
    loaded = load_settings(tmp_path, environ={"AzureAd": "oops"})
    assert loaded.settings.azure_ad.client_id == "c"


def test_dotenv_is_lower_than_real_environment(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "# comment\nexport AzureAd__ClientId='from dotenv'\nAzureAd__TenantId=\"t #1\"  # note\n",
        encoding="utf-8",
    )
    loaded = load_settings(tmp_path, environ={"AzureAd__ClientId": "from env"})
    assert loaded.settings.azure_ad.client_id == "from env"
    assert loaded.settings.azure_ad.tenant_id == "t #1"
    assert loaded.sources["AzureAd.TenantId"] == ".env"


def test_defaults_to_cwd_and_os_environ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_json(tmp_path / "appsettings.json", {"AzureAd": {"ClientId": "cwd"}})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AzureAd__TenantId", "from-os-environ")
    loaded = load_settings()
    assert loaded.settings.azure_ad.client_id == "cwd"
    assert loaded.settings.azure_ad.tenant_id == "from-os-environ"


def test_missing_config_dir_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "nowhere", environ={})


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "appsettings.json",
            '{\n  "AzureAd": {\n    "ClientId": "a"\n    "TenantId": "t"\n}',
            "line 4, column 5",
        ),
        ("appsettings.json", "{ /* never closed", "line 1, column 3"),
        ("appsettings.json", "[1, 2]", "top level must be an object"),
        ("appsettings.yaml", "AzureAd:\n  ClientId: [a\n  TenantId: t\n", "line 3"),
        (".env", "GOOD=1\nthis line is wrong\n", "line 2"),
    ],
)
def test_syntax_errors_name_file_line_and_column(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path, environ={})
    (problem,) = caught.value.problems
    assert problem.path == name
    assert where in problem.message


def test_problems_from_several_files_are_reported_together(tmp_path: Path) -> None:
    (tmp_path / "appsettings.json").write_text("{", encoding="utf-8")
    (tmp_path / "appsettings.yaml").write_text("a: [", encoding="utf-8")
    with pytest.raises(ConfigurationError) as caught:
        load_settings(tmp_path, environ={})
    assert [p.path for p in caught.value.problems] == ["appsettings.json", "appsettings.yaml"]


def test_jsonc_file_with_bom_comments_and_trailing_commas(tmp_path: Path) -> None:
    text = (
        '\ufeff{\n  // the app\n  "AzureAd": {\n    "ClientId": "a//b", /* inline */\n'
        '    "ClientCapabilities": ["cp1",],\n  },\n}\n'
    )
    (tmp_path / "appsettings.json").write_bytes(text.encode("utf-8"))
    app = load_settings(tmp_path, environ={}).settings.azure_ad
    assert app.client_id == "a//b"
    assert app.client_capabilities == ("cp1",)
