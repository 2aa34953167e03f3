"""Identity-provider errors over real TLS: typed, with AADSTS codes, correlation id and status,
and nothing cached; the CLI turns them into exit code 1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_helpers import API, build, secret_config, token_requests

from identity_web import ServiceError
from identity_web.emulator import Emulator, EmulatorManifest

CORRELATION_ID = "0b1e5a5e-6a3c-4a8e-9a2e-1a2b3c4d5e6f"
WRONG_SECRET = "not-the-secret-value"


def _wrong_secret_config(manifest: EmulatorManifest) -> dict[str, object]:
    config = secret_config(manifest, AcquireTokenOptions={"CorrelationId": CORRELATION_ID})
    config["AzureAd"]["ClientCredentials"][0]["ClientSecret"] = WRONG_SECRET  # type: ignore[index]
    return config


def test_a_rejected_credential_is_a_typed_error_with_code_correlation_id_and_status(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    with build(_wrong_secret_config(manifest), manifest) as services:
        with pytest.raises(ServiceError) as raised:
            services.downstream_api.call(API)
        assert len(services.token_acquirer.cache) == 0
    error = raised.value
    assert error.status == 401
    assert error.error == "invalid_client"
    assert error.error_codes == (7000215,)
    assert error.has_code(7000215)
    assert error.correlation_id == CORRELATION_ID
    assert error.trace_id
    assert error.endpoint.endswith("/oauth2/v2.0/token")
    assert "AADSTS7000215" in str(error)
    assert WRONG_SECRET not in str(error)
    (post,) = token_requests(emulator.requests())
    assert post["status"] == 401
    assert emulator.requests("resource") == []


def test_cli_call_exits_1_with_the_error_as_json(
    manifest: EmulatorManifest, tmp_path: Path
) -> None:
    (tmp_path / "appsettings.json").write_text(json.dumps(_wrong_secret_config(manifest)))
    done = subprocess.run(  # noqa: S603 - this interpreter, our own module
        [
            sys.executable,
            "-m",
            "identity_web",
            "call",
            API,
            "--config-dir",
            str(tmp_path),
            "--json",
        ],
        env={**os.environ, **manifest.env()},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1
    printed = json.loads(done.stdout)
    assert printed["error"] == "ServiceError"
    assert "AADSTS7000215" in printed["message"]
    assert "Traceback" not in done.stderr
    assert WRONG_SECRET not in done.stdout + done.stderr
