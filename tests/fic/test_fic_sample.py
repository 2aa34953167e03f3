"""samples/daemon-app-fic-mtls runs unchanged against the emulator, configured by environment
variables derived from the emulator's manifest and env file (as its README says)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from identity_web.emulator import Emulator, EmulatorManifest

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "daemon-app-fic-mtls"
pytestmark = pytest.mark.timeout(60)


def sample_environment(manifest: EmulatorManifest) -> dict[str, str]:
    """The env file's values, plus the endpoints, app and managed identity of the manifest."""
    app = manifest.apps[0]
    environ = {
        k: v for k, v in os.environ.items() if not k.startswith(("AzureKeyVault__", "AzureAd__"))
    }
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET"):
        environ.pop(name, None)
    return {
        **environ,
        **production_names(manifest.env()),
        "AzureAd__TenantId": manifest.tenant_id,
        "AzureAd__ClientId": app.client_id,
        "AzureAd__ClientCredentials__0__ManagedIdentityClientId": (
            app.federated_managed_identities[-1]
        ),
        "AzureKeyVault__BaseUrl": manifest.resource.base_url,
    }


def production_names(env: dict[str, str]) -> dict[str, str]:
    """The env file without the IMDS override: the sample's own login.microsoftonline.com and
    IMDS at 169.254.169.254 go through the resolver seam."""
    env.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    env["IDENTITY_WEB_MI_ATTESTATION"] = "software"  # the README's line
    return env


def run_sample(environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "main.py"],
        cwd=SAMPLE,
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sample_reads_the_secret_with_a_token_bound_to_the_managed_identity_certificate(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    emulator.set_attestation_mode("required")
    done = run_sample(sample_environment(manifest))
    assert done.returncode == 0, done.stderr
    assert "HTTP 200, token type mtls_pop" in done.stdout
    assert [e["status"] for e in emulator.requests("attestation.attest")] == [200]
    assert "emulated-secret-value-of-mysecret" in done.stdout
    leg1, leg2 = emulator.requests("entra.mtls_token")
    assert leg1["headers"]["host"] == "westus3.mtlsauth.microsoft.com"  # IMDS v2's endpoint
    assert leg2["headers"]["host"] == "mtlsauth.microsoft.com"  # the static rule
    assert leg1["form"]["client_id"] == manifest.apps[0].federated_managed_identities[-1]
    assert leg2["form"]["client_id"] == manifest.apps[0].client_id
    assert leg2["client_cert_x5t_s256"] == leg1["client_cert_x5t_s256"]
    assert f"Bound to certificate x5t#S256 {leg1['client_cert_x5t_s256']}" in done.stdout
    assert emulator.requests("resource")[0]["headers"]["x-ms-tokenboundauth"] == "true"
    assert "Traceback" not in done.stderr


def test_sample_with_bearer_is_one_setting_away(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    done = run_sample({**sample_environment(manifest), "AzureKeyVault__ProtocolScheme": "Bearer"})
    assert done.returncode == 0, done.stderr
    assert "HTTP 200, token type Bearer" in done.stdout
    assert "Bound to certificate" not in done.stdout
    (leg2,) = emulator.requests("entra.token")
    assert leg2["client_cert_x5t_s256"] is None
    assert emulator.requests("entra.mtls_token") == []


def test_sample_files_are_the_ones_users_see() -> None:
    text = (SAMPLE / "appsettings.json").read_text(encoding="utf-8")
    assert '"SourceType": "SignedAssertionFromManagedIdentity"' in text
    assert '"ProtocolScheme": "MTLS_POP"' in text
    assert '"RequestAppToken": true' in text
    assert "127.0.0.1" not in text
