"""The managed identity samples run unchanged against the emulator, configured by environment
variables only (as their READMEs say)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
pytestmark = pytest.mark.timeout(60)


def sample_environment(emulator: Any, user_assigned_client_id: str) -> dict[str, str]:
    manifest = emulator.manifest
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("AzureKeyVault__", "AzureAd__"))
    }
    for name in (
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
        "MSI_ENDPOINT",
        "MSI_SECRET",
        "IMDS_ENDPOINT",
    ):
        environ.pop(name, None)
    environ.update(manifest.env())
    environ.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")  # IMDS as on a VM: 169.254.169.254
    environ["IDENTITY_WEB_MI_ATTESTATION"] = "software"  # the README's line
    environ["AzureKeyVault__BaseUrl"] = manifest.resource.base_url
    environ["AzureKeyVault__AcquireTokenOptions__ManagedIdentity__UserAssignedClientId"] = (
        user_assigned_client_id
    )
    return environ


@pytest.mark.parametrize(
    ("sample", "token_type"), [("daemon-app-msi", "Bearer"), ("daemon-app-msi-mtls", "mtls_pop")]
)
def test_sample_reads_the_secret(emulator: Any, sample: str, token_type: str) -> None:
    emulator.set_attestation_mode("required")
    user = next(mi for mi in emulator.state.managed_identities if mi.kind == "UserAssigned")
    directory = SAMPLES / sample
    result = subprocess.run(  # noqa: S603 - our own sample with the test interpreter
        [sys.executable, str(directory / "main.py")],
        env=sample_environment(emulator, user.client_id),
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"HTTP 200, token type {token_type}" in result.stdout
    assert "emulated-secret-value-of-mysecret" in result.stdout
    imds = [e for e in emulator.requests() if e["endpoint"].startswith("imds.")]
    assert {e["headers"]["host"] for e in imds} == {"169.254.169.254"}
    (leg,) = [e for e in emulator.requests() if e["endpoint"] in ("imds.token", "entra.mtls_token")]
    if token_type == "mtls_pop":
        assert [e["status"] for e in emulator.requests("attestation.attest")] == [200]
        assert "Bound to certificate x5t#S256 " + leg["client_cert_x5t_s256"] in result.stdout
        assert emulator.requests("resource")[0]["headers"]["x-ms-tokenboundauth"] == "true"
    else:
        assert leg["query"]["client_id"] == user.client_id
