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
    name: str
    change: Change = field(default=lambda config: None)
    env: dict[str, str] = field(default_factory=dict)
    path: str | None = None  # None: accepted
    word: str = ""
    raw: str | None = None  # the file's text, when a dict cannot hold it (duplicate keys)


CASES = [
    # 1. ProtocolScheme: Bearer (also absent/null) and MTLS_POP, any case, trimmed; all else refused
    Case("scheme absent"),
    Case("scheme null", api(ProtocolScheme=None)),
    Case("scheme Bearer", api(ProtocolScheme="Bearer")),
    Case("scheme bearer lower case", api(ProtocolScheme="bearer")),
    Case("scheme MTLS_POP", MTLS),
    Case("scheme mtls_pop trimmed", api(ProtocolScheme="  mtls_pop ")),
    *(
        Case(f"scheme {value!r}", api(ProtocolScheme=value), path=f"{API}.ProtocolScheme", word=w)
        for value, w in [
            ("MTLS", "allowed: Bearer, MTLS_POP"),
            ("Pop", "signed HTTP request PoP"),
            ("PoP", "signed HTTP request PoP"),
            ("POP", "signed HTTP request PoP"),
            ("mTLS", "'mTLS'"),
            ("Basic", "'Basic'"),
            ("", "allowed: Bearer, MTLS_POP"),
            (42, "found 42"),
        ]
    ),
    Case(
        "scheme MTLS with an http BaseUrl",
        api(ProtocolScheme="MTLS", BaseUrl=PLAIN),
        path=f"{API}.ProtocolScheme",
        word="'MTLS'",
    ),
    Case(
        "scheme pop from the environment",
        env={"MYAPI__PROTOCOLSCHEME": "pop"},
        path=f"{API}.ProtocolScheme",
        word="signed HTTP request PoP",
    ),
    # 1. No anonymous call: a section that asks for a token needs a usable scope
    Case(
        "MTLS_POP without Scopes",
        both(MTLS, api(Scopes=DROP)),
        path=f"{API}.Scopes",
        word="no usable scope",
    ),
    Case(
        "MTLS_POP with Scopes []",
        both(MTLS, api(Scopes=[])),
        path=f"{API}.Scopes",
        word="no usable scope",
    ),
    Case(
        "MTLS_POP with the typo Scope",
        both(MTLS, api(Scopes=DROP, Scope=["api://my-api/.default"])),
        path=f"{API}.Scope",
        word="did you mean Scopes?",
    ),
    Case(
        "Bearer app token without Scopes",
        api(Scopes=DROP),
        path=f"{API}.Scopes",
        word="no usable scope",
    ),
    Case(
        "scope without /.default",
        api(Scopes=["api://my-api/read"]),
        path=f"{API}.Scopes",
        word="IDW10404",
    ),
    Case("no token asked, no scope: an anonymous API", api(Scopes=DROP, RequestAppToken=DROP)),
    # 1. No token over http:// except Bearer to loopback with the opt-in
    Case(
        "MTLS_POP over http", both(MTLS, api(BaseUrl=PLAIN)), path=f"{API}.BaseUrl", word="MTLS_POP"
    ),
    Case("Bearer over http", api(BaseUrl=PLAIN), path=f"{API}.BaseUrl", word="plain http"),
    Case(
        "Bearer to loopback without opt-in",
        api(BaseUrl=LOOPBACK),
        path=f"{API}.BaseUrl",
        word="AllowHttpToLoopback",
    ),
    Case(
        "Bearer to loopback with AllowHttpToLoopback",
        api(BaseUrl=LOOPBACK, AllowHttpToLoopback=True),
    ),
    Case(
        "MTLS_POP to loopback even with AllowHttpToLoopback",
        both(MTLS, api(BaseUrl=LOOPBACK, AllowHttpToLoopback=True)),
        path=f"{API}.BaseUrl",
        word="MTLS_POP",
    ),
    Case(
        "AllowHttpToLoopback does not open other hosts",
        api(BaseUrl=PLAIN, AllowHttpToLoopback=True),
        path=f"{API}.BaseUrl",
        word="use https",
    ),
    Case(
        "http Instance with MTLS_POP",
        both(MTLS, app(Instance="http://login.microsoftonline.com/")),
        path="AzureAd.Instance",
        word="https",
    ),
    Case(
        "http Authority with MTLS_POP",
        both(
            MTLS,
            app(
                Instance=DROP,
                TenantId=DROP,
                Authority=f"http://login.microsoftonline.com/{GUID}/v2.0",
            ),
        ),
        path="AzureAd.Authority",
        word="https",
    ),
    # 1. RequestAppToken: false asks for a user token: refused (absent is fine)
    Case(
        "RequestAppToken false",
        api(RequestAppToken=False),
        path=f"{API}.RequestAppToken",
        word="user flows",
    ),
    Case(
        "RequestAppToken false from the environment",
        env={"MyApi__RequestAppToken": "false"},
        path=f"{API}.RequestAppToken",
        word="user flows",
    ),
    # 1. and Why: MTLS_POP needs a real Entra ID workforce tenant
    *(
        Case(
            f"MTLS_POP with TenantId {tenant}",
            both(MTLS, app(TenantId=tenant)),
            path="AzureAd.TenantId",
            word="IDW10405",
        )
        for tenant in ("common", "organizations", "consumers")
    ),
    Case(
        "MTLS_POP with a B2C authority",
        both(
            MTLS,
            app(Instance="https://contoso.b2clogin.com/tfp/", TenantId="contoso.onmicrosoft.com"),
        ),
        path="AzureAd.Instance",
        word="B2C",
    ),
    Case(
        "MTLS_POP with a CIAM authority",
        both(MTLS, app(Instance=DROP, TenantId=DROP, Authority="https://contoso.ciamlogin.com/")),
        path="AzureAd.Instance",
        word="CIAM",
    ),
    Case(
        "Bearer with a CIAM authority",
        app(Instance=DROP, TenantId=DROP, Authority="https://contoso.ciamlogin.com/"),
    ),
    Case(
        "Path without a path",
        app(ClientCredentials=[{"SourceType": "Path"}]),
        path="AzureAd.ClientCredentials[0].CertificateDiskPath",
        word="needs CertificateDiskPath",
    ),
    Case(
        "a skipped incomplete entry",
        app(
            ClientCredentials=[
                {"SourceType": "Path", "Skip": True},
                VALID["AzureAd"]["ClientCredentials"][0],
            ]
        ),
    ),
    # 2. Unknown keys are named, with a did-you-mean, in every section the package owns
    Case(
        "ManagedIdentity ClientId",
        api(AcquireTokenOptions={"ManagedIdentity": {"ClientId": GUID}}),
        path=f"{API}.AcquireTokenOptions.ManagedIdentity.ClientId",
        word="did you mean UserAssignedClientId?",
    ),
    Case(
        "ManagedIdentity UserAssignedClientId",
        api(AcquireTokenOptions={"ManagedIdentity": {"UserAssignedClientId": GUID}}),
    ),
    Case(
        "unknown key in AzureAd",
        app(TenantID2="x"),
        path="AzureAd.TenantID2",
        word="did you mean TenantId?",
    ),
    Case(
        "unknown key in ClientCredentials[]",
        app(
            ClientCredentials=[
                {"SourceType": "Path", "CertificateDiskPath": "/a.pfx", "Pasword": "x"}
            ]
        ),
        path="AzureAd.ClientCredentials[0].Pasword",
        word="unknown key",
    ),
    Case(
        "unknown key in AcquireTokenOptions",
        api(AcquireTokenOptions={"ForceRefrsh": True}),
        path=f"{API}.AcquireTokenOptions.ForceRefrsh",
        word="did you mean ForceRefresh?",
    ),
    Case(
        "unknown key in a downstream section",
        api(BaseUri="https://x/"),
        path=f"{API}.BaseUri",
        word="did you mean BaseUrl?",
    ),
    Case(
        "signed-HTTP-request PoP options",
        api(AcquireTokenOptions={"PopPublicKey": "x"}),
        path=f"{API}.AcquireTokenOptions.PopPublicKey",
        word="signed HTTP request PoP",
    ),
    Case(
        "an Identity.Web web-app key is only warned about",
        app(Domain="contoso.onmicrosoft.com", CallbackPath="/signin-oidc"),
    ),
    Case(
        "an unknown top-level section stays allowed",
        lambda config: config.update(
            Logging={"LogLevel": {"Default": "Warning"}}, Kestrel={"Limits": {}}
        ),
    ),
    Case(
        "ClientId and clientid in one object",
        raw=json.dumps(VALID).replace('"ClientId": "', '"clientid": "x", "ClientId": "', 1),
        path="AzureAd.ClientId",
        word="different case",
    ),
    Case(
        "env Scopes without an index",
        env={"MyApi__Scopes": "api://x/.default"},
        path=f"{API}.Scopes",
        word="index",
    ),
    Case(
        "env non-numeric index",
        env={"AzureAd__ClientCredentials__first__SourceType": "Path"},
        path="AzureAd.ClientCredentials",
        word="'first'",
    ),
    Case(
        "env keys that differ only in case",
        env={"AzureAd__ClientId": GUID, "AZUREAD__CLIENTID": GUID},
        path="AzureAd.ClientId",
        word="differ only in case",
    ),
    Case(
        "AzureRegion a host name",
        app(AzureRegion="westus3.evil.com"),
        path="AzureAd.AzureRegion",
        word="not an Azure region",
    ),
    Case("AzureRegion a region", app(AzureRegion="westus3")),
    Case("AzureRegion TryAutoDetect", app(AzureRegion="TryAutoDetect")),
    Case("a sparse env index binds", env={"MyApi__Scopes__5": "api://other/.default"}),
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
