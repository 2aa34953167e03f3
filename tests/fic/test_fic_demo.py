"""`identity-web demo` runs the FIC scenarios, and with them all six scenarios, green."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from identity_web.cli._demo import SCENARIOS, demo_environ, run_scenario
from identity_web.emulator import Emulator

ALL_SIX = {"cert-bearer", "cert-mtls", "msi-bearer", "msi-mtls", "fic-bearer", "fic-mtls"}


@pytest.mark.parametrize("name", ["fic-bearer", "fic-mtls"])
def test_fic_scenario_is_ok_in_process(emulator: Emulator, tmp_path: Path, name: str) -> None:
    emulator.set_attestation_mode("required")  # as `identity-web demo` runs its emulator
    environ = demo_environ(emulator.manifest)
    outcome = run_scenario(SCENARIOS[name], emulator, tmp_path, environ)
    assert outcome.ok, outcome.reason
    assert outcome.status == 200
    if name == "fic-mtls":
        assert outcome.token_type == "mtls_pop"
        assert outcome.cnf_x5t_s256 == outcome.binding_thumbprint == outcome.client_cert_x5t_s256
        assert outcome.token_endpoint is not None
        assert outcome.token_endpoint.startswith("https://mtlsauth.microsoft.com/")
        assert [e["status"] for e in emulator.requests("attestation.attest")] == [200]
    else:
        assert outcome.token_type == "Bearer"
        assert outcome.binding_thumbprint is None
        assert outcome.token_endpoint is not None
        assert outcome.token_endpoint.startswith("https://login.microsoftonline.com/")
    assert outcome.imds_endpoint == "http://169.254.169.254"


def test_demo_json_runs_all_six_scenarios_ok() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "identity_web", "demo", "--json"],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert {line["scenario"] for line in lines} == ALL_SIX
    assert all(line["ok"] for line in lines), lines
