"""No CLI input prints a traceback, and exit codes follow CONTRACTS.md (configuration → 2).

The numeric option (`probe-mi --timeout`) is fuzzed with hypothesis: every text either runs
the probe (exit 0/1) when it is a finite number of seconds in (0, 60], or is a usage error
(exit 2) — never a traceback. Credential configuration errors exit 2 like settings errors; the
CLI never turns `RequestAppToken: false` into an app token.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from identity_web import ConfigurationError, ServiceError
from identity_web.cli import exit_code, main
from identity_web.credentials._errors import (
    CredentialFileError,
    IncompleteCredentialError,
    ManagedIdentityAssertionError,
    NoCredentialLoadedError,
)

GUID = "11111111-2222-3333-4444-555555555555"
CLOSED_LOOPBACK = "http://127.0.0.1:9"
MI_VARIABLES = (
    *("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT"),
    *("MSI_ENDPOINT", "MSI_SECRET", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_CLIENT_ID"),
)


@pytest.fixture(scope="module")
def closed_imds() -> Iterator[None]:
    """IMDS on a closed loopback port, no other managed identity source (module-wide, as
    hypothesis runs many examples in one test)."""
    saved = {
        name: os.environ.get(name) for name in (*MI_VARIABLES, "AZURE_POD_IDENTITY_AUTHORITY_HOST")
    }
    for name in MI_VARIABLES:
        os.environ.pop(name, None)
    os.environ["AZURE_POD_IDENTITY_AUTHORITY_HOST"] = CLOSED_LOOPBACK
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def _run(argv: list[str]) -> int:
    try:
        return main(argv)
    except SystemExit as exit_:  # argparse's usage errors
        return int(exit_.code or 0)


def _valid_timeout(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    return math.isfinite(value) and 0 < value <= 60


@pytest.mark.usefixtures("closed_imds")
@settings(
    max_examples=150,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    text=st.one_of(
        st.text(max_size=12),
        st.floats(allow_nan=True, allow_infinity=True).map(repr),
        st.integers(min_value=-(10**30), max_value=10**30).map(str),
    )
)
@example(text="-5")
@example(text="nan")
@example(text="inf")
@example(text="-inf")
@example(text="0")
@example(text="1e400")
@example(text="0.05")
@example(text="5e-324")
def test_probe_mi_timeout_is_a_number_or_a_usage_error(
    text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code = _run(["probe-mi", "--json", f"--timeout={text}"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if _valid_timeout(text):
        assert code == 1, err  # IMDS does not answer on the closed port
        assert json.loads(out)["available"] is False
    else:
        assert code == 2
        assert "--timeout" in err


def _config_dir(tmp_path: Path, **api: Any) -> Path:
    config = {
        "AzureAd": {
            "Instance": "https://127.0.0.1:9/",
            "TenantId": GUID,
            "ClientId": GUID,
            "ClientCredentials": [
                {"SourceType": "Path", "CertificateDiskPath": str(tmp_path / "missing.pfx")}
            ],
        },
        "MyApi": {
            "BaseUrl": "https://127.0.0.1:9/",
            "Scopes": ["api://my-api/.default"],
            "RequestAppToken": True,
            **api,
        },
    }
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    return tmp_path


@pytest.fixture
def no_settings_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if "__" in name or name in ("IDENTITYWEB_ENVIRONMENT", "DOTNET_ENVIRONMENT"):
            monkeypatch.delenv(name)


@pytest.mark.usefixtures("no_settings_variables")
@pytest.mark.parametrize(
    "argv",
    [["token", "--scope", "api://my-api/.default"], ["token", "MyApi"], ["call", "MyApi"]],
)
def test_a_credential_that_cannot_load_as_configured_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    directory = _config_dir(tmp_path)
    assert _run([*argv, "--config-dir", str(directory), "--json"]) == 2
    output = json.loads(capsys.readouterr().out)
    assert "AzureAd.ClientCredentials[0].CertificateDiskPath" in output["message"]


@pytest.mark.usefixtures("no_settings_variables")
@pytest.mark.parametrize("argv", [["token", "MyApi"], ["call", "MyApi"]])
def test_the_cli_never_turns_request_app_token_false_into_an_app_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    directory = _config_dir(tmp_path, RequestAppToken=False)
    assert _run([*argv, "--config-dir", str(directory), "--json"]) == 2
    output = json.loads(capsys.readouterr().out)
    assert output["error"] == "ConfigurationError"
    assert "MyApi.RequestAppToken" in output["message"]


def _rejected() -> ServiceError:
    return ServiceError(status=401, error="invalid_client", error_codes=[7000215])


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (ConfigurationError("x"), 2),
        (IncompleteCredentialError("no path", key="CertificateDiskPath"), 2),
        (ManagedIdentityAssertionError("IMDS did not answer"), 1),
        (_rejected(), 1),
    ],
)
def test_exit_codes_follow_the_contract(error: Exception, code: int) -> None:
    assert exit_code(error) == code


def _no_credential(*causes: Exception) -> NoCredentialLoadedError:
    error = NoCredentialLoadedError("")
    if len(causes) == 1:
        error.__cause__ = causes[0]
    elif causes:
        error.__cause__ = ExceptionGroup("credential load failures", list(causes))
    return error


def test_no_credential_loaded_is_configuration_only_when_every_cause_is() -> None:
    missing = CredentialFileError("missing", key="CertificateDiskPath")
    assert exit_code(_no_credential()) == 2  # empty list, or every entry skipped
    assert exit_code(_no_credential(missing)) == 2
    assert exit_code(_no_credential(missing, IncompleteCredentialError("x"))) == 2
    assert exit_code(_no_credential(missing, ManagedIdentityAssertionError("down"))) == 1
    assert exit_code(_no_credential(missing, _rejected())) == 1
