"""`identity-web config validate` and `identity-web config schema`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from identity_web.cli import main
from identity_web.settings._schema import schema_text

APP = {
    "AzureAd": {
        "Instance": "https://login.microsoftonline.com/",
        "TenantId": "contoso",
        "ClientId": "11111111-2222-3333-4444-555555555555",
        "ClientCredentials": [
            {"SourceType": "Path", "CertificateDiskPath": "app.pfx", "CertificatePassword": "pw1"},
            {"SourceType": "ClientSecret", "ClientSecret": "very-secret"},
        ],
    },
    "MyApi": {
        "BaseUrl": "https://api.example.com/",
        "Scopes": ["api://my/.default"],
        "ProtocolScheme": "MTLS_POP",
        "RequestAppToken": True,
        "ExtraHeaderParameters": {"X-Api-Password": "hdr-secret", "X-Trace": "1"},
        "AcquireTokenOptions": {"ManagedIdentity": {}},
    },
    "DownstreamApis": {"Graph": {"BaseUrl": "https://graph.microsoft.com/v1.0"}},
}


@pytest.fixture
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "appsettings.json").write_text(json.dumps(APP), encoding="utf-8")
    for name in list(os.environ):
        if "__" in name:
            monkeypatch.delenv(name)
    monkeypatch.setenv("AzureAd__TenantId", "from-env")
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    code = main(["config", "validate", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_validate_json_valid(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run_json(capsys, "--config-dir", str(config_dir))
    assert code == 0
    assert output["valid"] is True
    app = output["settings"]["AzureAd"]
    assert app["TenantId"] == "from-env"
    assert app["ClientCredentials"][0]["CertificatePassword"] == "***"
    assert app["ClientCredentials"][1]["ClientSecret"] == "***"
    api = output["settings"]["MyApi"]
    assert api["ExtraHeaderParameters"] == {"X-Api-Password": "***", "X-Trace": "1"}
    assert api["AcquireTokenOptions"]["ManagedIdentity"] == {}
    assert api["AcceptHeader"] == "application/json"
    sources = output["sources"]
    assert sources["AzureAd.TenantId"] == "env"
    assert sources["AzureAd.ClientId"] == "appsettings.json"
    assert sources["AzureAd.ClientCredentials[1].ClientSecret"] == "appsettings.json"
    assert sources["MyApi.AcceptHeader"] == "defaults"
    graph = output["settings"]["DownstreamApis"]["Graph"]
    assert graph["BaseUrl"] == "https://graph.microsoft.com/v1.0"
    assert sources["DownstreamApis.Graph.BaseUrl"] == "appsettings.json"
    text = json.dumps(output)
    for secret in ("pw1", "very-secret", "hdr-secret"):
        assert secret not in text


def test_validate_json_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = {"AzureAd": {"ClientCredentials": [{"SourceType": "KeyVolt"}], "ClientID2": "x"}}
    (tmp_path / "appsettings.json").write_text(json.dumps(broken), encoding="utf-8")
    code, output = run_json(capsys, "--config-dir", str(tmp_path))
    assert code == 2
    assert output["valid"] is False
    by_path = {error["path"]: error["message"] for error in output["errors"]}
    assert set(by_path) == {"AzureAd.ClientCredentials[0].SourceType", "AzureAd.ClientID2"}
    assert "did you mean KeyVault?" in by_path["AzureAd.ClientCredentials[0].SourceType"]
    assert all(set(error) == {"path", "message"} for error in output["errors"])


def test_validate_json_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "appsettings.json").write_text('{"AzureAd": {', encoding="utf-8")
    code, output = run_json(capsys, "--config-dir", str(tmp_path))
    assert code == 2
    (error,) = output["errors"]
    assert error["path"] == "appsettings.json"
    assert "line 1" in error["message"]


def test_validate_text(config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "validate", "--config-dir", str(config_dir)]) == 0
    out = capsys.readouterr().out
    assert "AzureAd.TenantId" in out
    assert "[env]" in out
    assert "very-secret" not in out


def test_validate_text_invalid_goes_to_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "appsettings.json").write_text('{"AzureAd": {"SendX5C": "x"}}', encoding="utf-8")
    assert main(["config", "validate", "--config-dir", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "AzureAd.SendX5C" in captured.err
    assert "Traceback" not in captured.err


def test_missing_config_dir_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, output = run_json(capsys, "--config-dir", str(tmp_path / "missing"))
    assert code == 2
    assert "does not exist" in output["errors"][0]["message"]


def test_schema_prints_the_committed_schema(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "schema"]) == 0
    out = capsys.readouterr().out
    assert out == schema_text()
    assert json.loads(out)["title"]


def test_config_without_action_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config"]) == 2


def test_python_dash_m(config_dir: Path) -> None:
    env = {k: v for k, v in os.environ.items() if "__" not in k}
    env["AzureAd__TenantId"] = "sub-env"
    result = subprocess.run(
        [sys.executable, "-m", "identity_web", "config", "validate", "--json"],
        cwd=config_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["settings"]["AzureAd"]["TenantId"] == "sub-env"
    assert output["sources"]["AzureAd.TenantId"] == "env"
