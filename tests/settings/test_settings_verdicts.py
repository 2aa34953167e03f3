"""Issue 12: every case of the issue, with its verdict, through the public API and the CLI.

Each row is a configuration (a change to a valid one, plus environment variables) and its
verdict: accepted, or refused with the key path the error must name and a word of its
message. Each row runs twice — `TokenAcquirerFactory` → `add_downstream_api("MyApi")` →
`build()` (a ConfigurationError naming the path), and `identity-web config validate --json`
(exit 2 and the same path) — and the two verdicts must agree: one verdict everywhere.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from identity_web import ConfigurationError, TokenAcquirerFactory
from identity_web.cli import main
from identity_web.settings import DownstreamApiOptions, _keys, check_call

GUID = "11111111-2222-3333-4444-555555555555"
API = "MyApi"

VALID: dict[str, Any] = {
    "AzureAd": {
        "Instance": "https://login.microsoftonline.com/",
        "TenantId": GUID,
        "ClientId": GUID,
        "ClientCredentials": [{"SourceType": "Path", "CertificateDiskPath": "/certs/app.pfx"}],
    },
    API: {
        "BaseUrl": "https://api.example.com/",
        "RelativePath": "items",
        "Scopes": ["api://my-api/.default"],
        "RequestAppToken": True,
    },
}

Change = Callable[[dict[str, Any]], None]


def api(**keys: Any) -> Change:
    """Set keys of the downstream section (None writes null; DROP removes the key)."""

    def change(config: dict[str, Any]) -> None:
        for key, value in keys.items():
            if value is DROP:
                config[API].pop(key, None)
            else:
                config[API][key] = value

    return change


def app(**keys: Any) -> Change:
    def change(config: dict[str, Any]) -> None:
        for key, value in keys.items():
            if value is DROP:
                config["AzureAd"].pop(key, None)
            else:
                config["AzureAd"][key] = value

    return change


def both(*changes: Change) -> Change:
    def change(config: dict[str, Any]) -> None:
        for one in changes:
            one(config)

    return change


DROP: Any = object()
MTLS = api(ProtocolScheme="MTLS_POP")
PLAIN = "http://api.example.com/"
LOOPBACK = "http://127.0.0.1:8080/"


@dataclass(frozen=True)
class Case:
    """A row: `path` None means accepted; else the key path the error names and a word of it."""

    name: str
    change: Change = field(default=lambda config: None)
    path: str | None = None
    word: str = ""
    env: dict[str, str] = field(default_factory=dict)
    raw: str | None = None  # the file's text, when a dict cannot hold it (duplicate keys)


def ok(name: str, change: Change = lambda config: None, **env: str) -> Case:
    return Case(name, change, env=env)


def no(name: str, change: Change, path: str, word: str, **env: str) -> Case:
    return Case(name, change, path, word, env)


def no_env(name: str, path: str, word: str, **env: str) -> Case:
    return Case(name, path=path, word=word, env=env)


S = f"{API}."  # the downstream section's path prefix
A = "AzureAd."
B2C = "https://contoso.b2clogin.com/tfp/"
CIAM = app(Instance=DROP, TenantId=DROP, Authority="https://contoso.ciamlogin.com/")
HTTP_AUTHORITY = f"http://login.microsoftonline.com/{GUID}/v2.0"
PATH_ENTRY = VALID["AzureAd"]["ClientCredentials"][0]
DUPLICATE = json.dumps(VALID).replace('"ClientId": "', '"clientid": "x", "ClientId": "', 1)
POP = "signed HTTP request PoP"

CASES = [
    # 1. ProtocolScheme: Bearer (also absent/null) and MTLS_POP, any case, trimmed; all else refused
    ok("scheme absent"),
    ok("scheme null", api(ProtocolScheme=None)),
    ok("scheme Bearer", api(ProtocolScheme="Bearer")),
    ok("scheme bearer lower case", api(ProtocolScheme="bearer")),
    ok("scheme MTLS_POP", MTLS),
    ok("scheme mtls_pop trimmed", api(ProtocolScheme="  mtls_pop ")),
    no(
        "scheme MTLS", api(ProtocolScheme="MTLS"), S + "ProtocolScheme", "allowed: Bearer, MTLS_POP"
    ),
    no("scheme Pop", api(ProtocolScheme="Pop"), S + "ProtocolScheme", POP),
    no("scheme PoP", api(ProtocolScheme="PoP"), S + "ProtocolScheme", POP),
    no("scheme POP", api(ProtocolScheme="POP"), S + "ProtocolScheme", POP),
    no("scheme mTLS", api(ProtocolScheme="mTLS"), S + "ProtocolScheme", "'mTLS'"),
    no("scheme Basic", api(ProtocolScheme="Basic"), S + "ProtocolScheme", "'Basic'"),
    no("scheme empty", api(ProtocolScheme=""), S + "ProtocolScheme", "allowed: Bearer, MTLS_POP"),
    no("scheme 42", api(ProtocolScheme=42), S + "ProtocolScheme", "found 42"),
    no("MTLS and http", api(ProtocolScheme="MTLS", BaseUrl=PLAIN), S + "ProtocolScheme", "'MTLS'"),
    no_env(
        "scheme pop from the environment", S + "ProtocolScheme", POP, MYAPI__PROTOCOLSCHEME="pop"
    ),
    # 1. No anonymous call: a section that asks for a token needs a usable scope
    no("MTLS_POP without Scopes", both(MTLS, api(Scopes=DROP)), S + "Scopes", "no usable scope"),
    no("MTLS_POP with Scopes []", both(MTLS, api(Scopes=[])), S + "Scopes", "no usable scope"),
    no(
        "MTLS_POP, Scope typo",
        both(MTLS, api(Scopes=DROP, Scope=["a/.default"])),
        S + "Scope",
        "Scopes?",
    ),
    no("Bearer app token, no Scopes", api(Scopes=DROP), S + "Scopes", "no usable scope"),
    no("scope without /.default", api(Scopes=["api://my-api/read"]), S + "Scopes", "IDW10404"),
    ok("no token asked, no scope: an anonymous API", api(Scopes=DROP, RequestAppToken=DROP)),
    # 1. No token over http:// except Bearer to loopback with the opt-in
    no("MTLS_POP over http", both(MTLS, api(BaseUrl=PLAIN)), S + "BaseUrl", "MTLS_POP"),
    no("Bearer over http", api(BaseUrl=PLAIN), S + "BaseUrl", "plain http"),
    no(
        "Bearer to loopback, no opt-in", api(BaseUrl=LOOPBACK), S + "BaseUrl", "AllowHttpToLoopback"
    ),
    ok("Bearer to loopback with the opt-in", api(BaseUrl=LOOPBACK, AllowHttpToLoopback=True)),
    no(
        "MTLS_POP to loopback even with the opt-in",
        both(MTLS, api(BaseUrl=LOOPBACK, AllowHttpToLoopback=True)),
        S + "BaseUrl",
        "MTLS_POP",
    ),
    no(
        "opt-in, other host",
        api(BaseUrl=PLAIN, AllowHttpToLoopback=True),
        S + "BaseUrl",
        "use https",
    ),
    no(
        "http Instance",
        both(MTLS, app(Instance="http://login.microsoftonline.com/")),
        A + "Instance",
        "https",
    ),
    no(
        "http Authority",
        both(MTLS, app(Instance=DROP, TenantId=DROP, Authority=HTTP_AUTHORITY)),
        A + "Authority",
        "https",
    ),
    # 1. RequestAppToken: false asks for a user token: refused (absent is fine)
    no("RequestAppToken false", api(RequestAppToken=False), S + "RequestAppToken", "user flows"),
    no_env(
        "RequestAppToken false from env",
        S + "RequestAppToken",
        "user flows",
        MyApi__RequestAppToken="false",
    ),
    no_env("RequestAppToken 0", S + "RequestAppToken", "user flows", MyApi__RequestAppToken="0"),
    # 1. and Why: MTLS_POP needs a real Entra ID workforce tenant
    no("MTLS_POP, TenantId common", both(MTLS, app(TenantId="common")), A + "TenantId", "IDW10405"),
    no(
        "MTLS_POP, organizations",
        both(MTLS, app(TenantId="organizations")),
        A + "TenantId",
        "IDW10405",
    ),
    no("MTLS_POP, consumers", both(MTLS, app(TenantId="consumers")), A + "TenantId", "IDW10405"),
    no("Bearer, TenantId common", app(TenantId="common"), A + "TenantId", "IDW10405"),
    no(
        "per-API tenant organizations",
        api(AcquireTokenOptions={"Tenant": "organizations"}),
        S + "AcquireTokenOptions.Tenant",
        "IDW10405",
    ),
    no("no credential", app(ClientCredentials=DROP), A + "ClientCredentials", "no credential"),
    no(
        "every credential skipped",
        app(ClientCredentials=[{**PATH_ENTRY, "Skip": True}]),
        A + "ClientCredentials",
        "every entry skipped",
    ),
    ok(
        "no credential, a managed identity",
        both(app(ClientCredentials=DROP), api(AcquireTokenOptions={"ManagedIdentity": {}})),
    ),
    no(
        "MTLS_POP, B2C",
        both(MTLS, app(Instance=B2C, TenantId="contoso.onmicrosoft.com")),
        A + "Instance",
        "B2C",
    ),
    no("MTLS_POP, CIAM", both(MTLS, CIAM), A + "Instance", "CIAM"),
    ok("Bearer with a CIAM authority", CIAM),
    no(
        "Path without a path",
        app(ClientCredentials=[{"SourceType": "Path"}]),
        A + "ClientCredentials[0].CertificateDiskPath",
        "needs CertificateDiskPath",
    ),
    no(
        "KeyVault without a certificate name",
        app(
            ClientCredentials=[
                {"SourceType": "KeyVault", "KeyVaultUrl": "https://v.vault.azure.net"}
            ]
        ),
        A + "ClientCredentials[0].KeyVaultCertificateName",
        "needs KeyVaultCertificateName",
    ),
    no(
        "KeyVault over plain HTTP",
        app(
            ClientCredentials=[
                {
                    "SourceType": "KeyVault",
                    "KeyVaultUrl": "http://v.vault.azure.net",
                    "KeyVaultCertificateName": "c",
                }
            ]
        ),
        A + "ClientCredentials[0].KeyVaultUrl",
        "over https",
    ),
    ok(
        "a skipped incomplete entry",
        app(ClientCredentials=[{"SourceType": "Path", "Skip": True}, PATH_ENTRY]),
    ),
    # 2. Unknown keys are named, with a did-you-mean, in every section the package owns
    no(
        "ManagedIdentity ClientId",
        api(AcquireTokenOptions={"ManagedIdentity": {"ClientId": GUID}}),
        S + "AcquireTokenOptions.ManagedIdentity.ClientId",
        "did you mean UserAssignedClientId?",
    ),
    ok(
        "ManagedIdentity UserAssignedClientId",
        api(AcquireTokenOptions={"ManagedIdentity": {"UserAssignedClientId": GUID}}),
    ),
    no("unknown key in AzureAd", app(TenantID2="x"), A + "TenantID2", "did you mean TenantId?"),
    no(
        "unknown key in ClientCredentials[]",
        app(ClientCredentials=[{**PATH_ENTRY, "Pasword": "x"}]),
        A + "ClientCredentials[0].Pasword",
        "unknown key",
    ),
    no(
        "unknown key in AcquireTokenOptions",
        api(AcquireTokenOptions={"ForceRefrsh": True}),
        S + "AcquireTokenOptions.ForceRefrsh",
        "ForceRefresh?",
    ),
    no(
        "unknown key in a downstream section",
        api(BaseUri="https://x/"),
        S + "BaseUri",
        "did you mean BaseUrl?",
    ),
    no(
        "signed-HTTP-request PoP options",
        api(AcquireTokenOptions={"PopPublicKey": "x"}),
        S + "AcquireTokenOptions.PopPublicKey",
        POP,
    ),
    ok(
        "an Identity.Web web-app key is only warned about",
        app(Domain="contoso.com", CallbackPath="/signin-oidc"),
    ),
    ok(
        "an unknown top-level section stays allowed",
        lambda config: config.update(Logging={"LogLevel": {}}),
    ),
    Case(
        "ClientId and clientid in one object",
        path=A + "ClientId",
        word="different case",
        raw=DUPLICATE,
    ),
    no_env("env Scopes without an index", S + "Scopes", "index", MyApi__Scopes="api://x/.default"),
    no_env(
        "env non-numeric index",
        A + "ClientCredentials",
        "'first'",
        AzureAd__ClientCredentials__first__SourceType="Path",
    ),
    no_env(
        "env keys differing in case",
        A + "ClientId",
        "differ only in case",
        AzureAd__ClientId=GUID,
        AZUREAD__CLIENTID=GUID,
    ),
    no(
        "AzureRegion a host name",
        app(AzureRegion="westus3.evil.com"),
        A + "AzureRegion",
        "not an Azure region",
    ),
    no_env("env empty segment", "AzureAd", "empty segment", AzureAd____ClientId=GUID),
    ok("case twins in a section not ours", lambda config: config.update(Logging={"a": 1, "A": 2})),
    ok("AzureRegion a region", app(AzureRegion="westus3")),
    ok("AzureRegion TryAutoDetect", app(AzureRegion="TryAutoDetect")),
    ok("a sparse env index binds", MyApi__Scopes__5="api://other/.default"),
]


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in list(os.environ):
        if "__" in name or name in ("IDENTITYWEB_ENVIRONMENT", "DOTNET_ENVIRONMENT"):
            monkeypatch.delenv(name)
    return monkeypatch


def write(directory: Path, case: Case) -> None:
    if case.raw is not None:
        text = case.raw
    else:
        config = copy.deepcopy(VALID)
        case.change(config)
        text = json.dumps(config)
    (directory / "appsettings.json").write_text(text, encoding="utf-8")


def library_verdict(directory: Path, env: dict[str, str]) -> dict[str, str]:
    """{} when the services build, else {path: message} of the ConfigurationError."""
    try:
        factory = TokenAcquirerFactory.from_config_dir(directory, environ=env)
        factory.add_downstream_api(API)
        factory.build().close()
    except ConfigurationError as error:
        return {problem.path: problem.message for problem in error.problems}
    return {}


def cli_verdict(directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, str]]:
    code = main(["config", "validate", "--config-dir", str(directory), "--json"])
    output = json.loads(capsys.readouterr().out)
    return code, {error["path"]: error["message"] for error in output.get("errors", [])}


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_one_verdict_through_the_library_and_the_cli(
    case: Case,
    tmp_path: Path,
    clean_environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    write(tmp_path, case)
    for name, value in case.env.items():
        clean_environment.setenv(name, value)
    library = library_verdict(tmp_path, case.env)
    code, cli = cli_verdict(tmp_path, capsys)
    if case.path is None:
        assert (library, code, cli) == ({}, 0, {})
        return
    assert case.path in library, library
    assert case.word in library[case.path]
    assert code == 2
    assert cli.get(case.path) == library[case.path]


def test_the_table_holds_every_refusal_the_issue_names() -> None:
    refused = {case.path for case in CASES if case.path}
    for path in (
        f"{API}.ProtocolScheme",
        f"{API}.Scopes",
        f"{API}.Scope",
        f"{API}.BaseUrl",
        f"{API}.RequestAppToken",
        f"{API}.AcquireTokenOptions.ManagedIdentity.ClientId",
        "AzureAd.TenantId",
        "AzureAd.Instance",
        "AzureAd.Authority",
        "AzureAd.AzureRegion",
        "AzureAd.ClientId",
        "AzureAd.ClientCredentials[0].CertificateDiskPath",
    ):
        assert path in refused, path


def test_identity_web_keys_not_acted_on_are_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = copy.deepcopy(VALID)
    config["AzureAd"].update(Domain="contoso.onmicrosoft.com", CallbackPath="/signin-oidc")
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="identity_web"):
        factory = TokenAcquirerFactory.from_config_dir(tmp_path, environ={})
        factory.add_downstream_api(API)
        factory.build().close()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    (warning,) = [message for message in warnings if "does not act on" in message]
    assert "AzureAd.Domain" in warning
    assert "AzureAd.CallbackPath" in warning


def test_a_sparse_environment_index_shows_its_source(
    tmp_path: Path, clean_environment: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    config = copy.deepcopy(VALID)
    del config["AzureAd"]["ClientCredentials"]
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    clean_environment.setenv("AzureAd__ClientCredentials__5__SourceType", "Path")
    clean_environment.setenv("AzureAd__ClientCredentials__5__CertificateDiskPath", "/a.pfx")
    assert main(["config", "validate", "--config-dir", str(tmp_path), "--json"]) == 0
    output = json.loads(capsys.readouterr().out)
    assert output["settings"]["AzureAd"]["ClientCredentials"] == [
        {
            "SourceType": "Path",
            "CertificateDiskPath": "/a.pfx",
            "Skip": False,
            "UseBoundCredential": False,
            "CustomSignedAssertionProviderData": {},
        }
    ]
    assert output["sources"]["AzureAd.ClientCredentials[0].SourceType"] == "env"
    assert output["sources"]["AzureAd.ClientCredentials[0].CertificateDiskPath"] == "env"


def test_the_docs_list_every_key_read_but_not_acted_on_and_every_refused_one() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "configuration.md").read_text("utf-8")
    section = docs[docs.index("## Keys read but not acted on") : docs.index("## Build-time checks")]
    for model in _keys.IGNORED:
        for key in _keys.ignored_keys(model):
            assert f"`{key}`" in section, key
    for reasons in _keys.UNSUPPORTED.values():
        for key in reasons:
            assert f"`{key}`" in section or f"`AcquireTokenOptions.{key}`" in section, key


@pytest.mark.parametrize(
    ("section", "refused"),
    [
        ({"BaseUrl": "https://a/", "Scopes": ["api://a/.default"], "RequestAppToken": True}, ""),
        ({"BaseUrl": "https://a/"}, ""),  # no token asked: an anonymous API
        ({"BaseUrl": "https://a/", "ProtocolScheme": "MTLS_POP", "Scopes": []}, "A.Scopes"),
        ({"BaseUrl": PLAIN, "Scopes": ["api://a/.default"], "RequestAppToken": True}, "A.BaseUrl"),
        (
            {"BaseUrl": LOOPBACK, "Scopes": ["api://a/.default"], "AllowHttpToLoopback": True},
            "",
        ),
        (
            {
                "BaseUrl": LOOPBACK,
                "Scopes": ["api://a/.default"],
                "AllowHttpToLoopback": True,
                "ProtocolScheme": "mtls_pop",
            },
            "A.BaseUrl",
        ),
    ],
)
def test_check_call_is_the_runtime_side_of_the_same_rules(
    section: dict[str, Any], refused: str
) -> None:
    options = DownstreamApiOptions.model_validate(section)
    if not refused:
        check_call(options, api="A")
        return
    with pytest.raises(ConfigurationError) as caught:
        check_call(options, api="A")
    assert [problem.path for problem in caught.value.problems] == [refused]


VALUES: dict[str, list[Any]] = {
    "BaseUrl": ["https://api.example.com/", PLAIN, LOOPBACK, "https://[::1]/", "not a url"],
    "Scopes": [["api://a/.default"], [], ["user.read"], "api://a/.default", [" "], None],
    "ProtocolScheme": ["Bearer", "MTLS_POP", "mtls_pop", "MTLS", "PoP", "", None, 7],
    "RequestAppToken": [True, False, None, "true", "no"],
    "AllowHttpToLoopback": [True, False],
    "AcquireTokenOptions": [
        {},
        {"ManagedIdentity": {}},
        {"ManagedIdentity": {"ClientId": GUID}},
        {"Tenant": "common"},
        {"Tenant": "fabrikam.onmicrosoft.com"},
    ],
    "Scope": [["api://a/.default"]],
}
APP_VALUES: dict[str, list[Any]] = {
    "TenantId": [GUID, "common", "consumers"],
    "Instance": ["https://login.microsoftonline.com/", "http://127.0.0.1/", B2C],
    "AzureRegion": ["westus3", "TryAutoDetect", "westus3.evil.com"],
    "ClientCredentials": [[PATH_ENTRY], [{"SourceType": "Path"}], [{"SourceType": "ClientSecret"}]],
}


@st.composite
def configurations(draw: st.DrawFn) -> dict[str, Any]:
    config = copy.deepcopy(VALID)
    for key, choices in VALUES.items():
        if draw(st.booleans()):
            config[API][key] = draw(st.sampled_from(choices))
    for key, choices in APP_VALUES.items():
        if draw(st.booleans()):
            config["AzureAd"][key] = draw(st.sampled_from(choices))
    return config


@settings(
    max_examples=120,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(config=configurations())
def test_config_validate_and_build_agree_on_any_mix_of_settings(
    config: dict[str, Any],
    tmp_path_factory: pytest.TempPathFactory,
    clean_environment: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Everything `config validate` accepts builds; everything it refuses fails to build, with
    the same problems."""
    directory = tmp_path_factory.mktemp("mix")
    (directory / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    library = library_verdict(directory, {})
    code, cli = cli_verdict(directory, capsys)
    assert code == (2 if library else 0)
    assert cli == library
