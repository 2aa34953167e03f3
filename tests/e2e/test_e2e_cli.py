"""`identity-web call`, `token` and `demo`, run as a user runs them (subprocesses)."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import certificate_config

from identity_web.cli import main
from identity_web.cli._demo import JSON_KEYS, SCENARIOS, Outcome, Scenario, run_scenario
from identity_web.emulator import Emulator, EmulatorManifest

#: The keys of `identity-web demo --json`, in order, exactly as CONTRACTS.md prints them.
CONTRACT_DEMO_KEYS = (
    "scenario",
    "credential_source",
    "protocol_scheme",
    "token_type",
    "binding_thumbprint",
    "cnf_x5t_s256",
    "status",
    "ok",
)
#: Added by the production-names work (issue 13): extended, never renamed.
DEMO_ENDPOINT_KEYS = ("token_endpoint",)
MANAGED_IDENTITY_DEMO_KEYS = ("token_endpoint", "imds_endpoint")


def identity_web(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "identity_web", *args],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def config_dir(manifest: EmulatorManifest, tmp_path: Path) -> Path:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


def test_call_json_prints_the_contract_object(
    manifest: EmulatorManifest, emulator: Emulator, config_dir: Path
) -> None:
    done = identity_web(
        "call", "MyApi", "--config-dir", str(config_dir), "--json", env=manifest.env()
    )
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert set(printed) == {"status", "token_type", "binding_thumbprint", "body"}
    thumbprint = emulator.demo_credential.x5t_s256
    assert (printed["status"], printed["token_type"]) == (200, "mtls_pop")
    assert printed["binding_thumbprint"] == thumbprint
    assert printed["body"]["cnf_x5t_s256"] == thumbprint


def test_call_overrides_path_and_method_and_exits_1_on_non_2xx(
    manifest: EmulatorManifest, config_dir: Path
) -> None:
    echoed = identity_web(
        "call", "myapi", "--config-dir", str(config_dir), "--relative-path", "echo/x",
        "--method", "delete", "--json", env=manifest.env(),
    )  # fmt: skip
    assert echoed.returncode == 0, echoed.stderr
    assert json.loads(echoed.stdout)["body"]["method"] == "DELETE"
    refused = identity_web(
        "call", "MyApi", "--config-dir", str(config_dir), "--relative-path", "secrets/s",
        env=manifest.env(),
    )  # fmt: skip
    assert refused.returncode == 1
    assert refused.stdout.startswith("HTTP 401 (mtls_pop, bound to x5t#S256 ")
    assert "Traceback" not in refused.stderr


def test_call_with_bad_configuration_exits_2_without_traceback(
    manifest: EmulatorManifest, config_dir: Path
) -> None:
    done = identity_web("call", "Nope", "--config-dir", str(config_dir), env=manifest.env())
    assert done.returncode == 2
    assert "Nope" in done.stderr
    assert "Traceback" not in done.stderr
    as_json = identity_web("call", "Nope", "--config-dir", str(config_dir), "--json")
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["error"] == "ConfigurationError"


def test_token_describes_a_bound_token_without_printing_it(
    manifest: EmulatorManifest, emulator: Emulator, config_dir: Path
) -> None:
    done = identity_web(
        "token", "MyApi", "--config-dir", str(config_dir), "--json", env=manifest.env()
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    thumbprint = emulator.demo_credential.x5t_s256
    assert set(report) == {
        "scope", "token_type", "expires_on", "token_source", "binding_thumbprint",
        "token_endpoint", "claims",
    }  # fmt: skip
    assert report["token_type"] == "mtls_pop"
    assert report["token_source"] == "identity_provider"
    assert report["scope"] == manifest.resource.scope
    assert datetime.datetime.fromisoformat(report["expires_on"]) > datetime.datetime.now(
        datetime.UTC
    )
    assert {"aud", "appid", "tid", "oid", "cnf"} <= set(report["claims"])
    assert report["binding_thumbprint"] == thumbprint
    assert report["claims"]["cnf"] == {"x5t#S256": thumbprint}
    assert report["claims"]["appid"] == manifest.apps[0].client_id
    assert report["claims"]["tid"] == manifest.tenant_id
    assert "access_token" not in report
    assert "eyJ" not in done.stdout


def test_token_for_a_scope_and_show_token(manifest: EmulatorManifest, config_dir: Path) -> None:
    scope = manifest.resource.scope
    done = identity_web(
        "token", "--scope", scope, "--config-dir", str(config_dir), "--show-token",
        env=manifest.env(),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Token type:     Bearer" in done.stdout
    assert "Access token:   eyJ" in done.stdout
    both = identity_web("token", "MyApi", "--scope", scope, "--config-dir", str(config_dir))
    assert both.returncode == 2


def test_demo_json_runs_every_available_scenario_ok() -> None:
    done = identity_web("demo", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {"cert-bearer", "cert-mtls"} <= {line["scenario"] for line in lines}
    assert CONTRACT_DEMO_KEYS + MANAGED_IDENTITY_DEMO_KEYS == JSON_KEYS
    for line in lines:
        managed = line["credential_source"] != "Path"
        added = MANAGED_IDENTITY_DEMO_KEYS if managed else DEMO_ENDPOINT_KEYS
        assert tuple(line) == CONTRACT_DEMO_KEYS + added
        assert line["ok"] is True, line
        assert line["token_endpoint"].startswith(
            ("https://login.microsoftonline.com/", "https://mtlsauth.microsoft.com/",
             "https://westus3.mtlsauth.microsoft.com/", "http://169.254.169.254/")
        )  # fmt: skip
        if managed:
            assert line["imds_endpoint"] == "http://169.254.169.254"
        if line["protocol_scheme"] == "MTLS_POP":
            assert line["cnf_x5t_s256"] == line["binding_thumbprint"] is not None
            assert line["token_type"] == "mtls_pop"
        else:
            assert line["cnf_x5t_s256"] is None


def test_demo_text_table_and_unknown_scenario() -> None:
    done = identity_web("demo", "--scenario", "cert-mtls")
    assert done.returncode == 0, done.stderr
    header, row = done.stdout.splitlines()
    assert header.split()[:3] == ["SCENARIO", "CREDENTIAL", "SCHEME"]
    assert row.split()[:6] == ["cert-mtls", "Path", "MTLS_POP", "mtls_pop", "200", "yes"]
    unknown = identity_web("demo", "--scenario", "no-such")
    assert unknown.returncode == 2
    assert "known: cert-bearer" in unknown.stderr


_CERTIFICATE_SETTINGS = SCENARIOS["cert-mtls"].settings


def _unknown_client(manifest: EmulatorManifest, scheme: str) -> dict[str, Any]:
    """The cert-mtls settings with a client id the emulator does not know."""
    settings = _CERTIFICATE_SETTINGS(manifest, scheme)
    settings["AzureAd"]["ClientId"] = "00000000-0000-0000-0000-000000000001"
    return settings


def test_a_failing_scenario_is_reported_not_ok_with_its_reason(
    manifest: EmulatorManifest, emulator: Emulator, tmp_path: Path
) -> None:
    failing = Scenario("failing", "Path", "MTLS_POP", _unknown_client)
    outcome: Outcome = run_scenario(failing, emulator, tmp_path, manifest.env())
    assert not outcome.ok
    assert outcome.reason.startswith("ServiceError: ")
    assert "AADSTS700016" in outcome.reason
    assert outcome.as_json()["ok"] is False
    assert outcome.as_json()["status"] is None


def test_demo_exits_1_when_a_scenario_is_not_ok(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    failing = Scenario("cert-mtls", "Path", "MTLS_POP", _unknown_client)
    monkeypatch.setitem(SCENARIOS, "cert-mtls", failing)
    code = main(["demo", "--json", "--scenario", "cert-bearer", "--scenario", "cert-mtls"])
    out = capsys.readouterr().out
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [(line["scenario"], line["ok"]) for line in lines] == [
        ("cert-bearer", True),
        ("cert-mtls", False),
    ]
    assert all(tuple(line) == CONTRACT_DEMO_KEYS + DEMO_ENDPOINT_KEYS for line in lines)
