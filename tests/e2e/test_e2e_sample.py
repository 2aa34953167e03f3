"""samples/daemon-app-cert-mtls runs unchanged against the emulator (only the environment set)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings._files import read_dotenv

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "daemon-app-cert-mtls"


def sample_environment(
    manifest: EmulatorManifest, emulator: Emulator, directory: Path
) -> dict[str, str]:
    """The env file the emulator writes (read back from disk), plus the endpoints and app of
    its manifest as the README exports them."""
    app = manifest.apps[0]
    assert app.certificate_pfx_path is not None
    env_file = directory / "emulator.env"
    emulator.write_files(directory / "emulator.json", env_file)
    from_env_file = read_dotenv(env_file)
    assert {"SSL_CERT_FILE", "IDENTITY_WEB_EMULATOR_MANIFEST"} <= set(from_env_file)
    return {
        **from_env_file,  # IDENTITY_WEB_CONNECT_TO: appsettings' login.microsoftonline.com
        "AzureAd__TenantId": manifest.tenant_id,
        "AzureAd__ClientId": app.client_id,
        "AzureAd__ClientCredentials__0__CertificateDiskPath": app.certificate_pfx_path,
        "AzureAd__ClientCredentials__0__CertificatePassword": app.certificate_pfx_password or "",
        "AzureKeyVault__BaseUrl": manifest.resource.base_url,
    }


def test_sample_calls_the_resource_with_a_bound_token(
    manifest: EmulatorManifest, emulator: Emulator, tmp_path: Path
) -> None:
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("AzureAd__", "AzureKeyVault__"))
    }
    env = {**inherited, **sample_environment(manifest, emulator, tmp_path)}
    emulator.clear_requests()
    done = subprocess.run(
        [sys.executable, "main.py"],
        cwd=SAMPLE,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    thumbprint = emulator.demo_credential.x5t_s256
    assert "HTTP 200, token type mtls_pop" in done.stdout
    assert f"x5t#S256 {thumbprint}" in done.stdout
    assert "emulated-secret-value-of-mysecret" in done.stdout
    assert "Traceback" not in done.stderr
    (token_request,) = emulator.requests("entra.mtls_token")
    (vault_call,) = emulator.requests("resource")
    # The vault answers 200 to a bound token only when cnf matches the TLS client certificate.
    assert token_request["client_cert_x5t_s256"] == thumbprint
    assert token_request["headers"]["host"] == "mtlsauth.microsoft.com"  # the static rule
    assert emulator.requests("entra.openid_configuration") == []
    assert vault_call["client_cert_x5t_s256"] == thumbprint
    assert vault_call["status"] == 200
    assert vault_call["headers"]["x-ms-tokenboundauth"] == "true"


def test_sample_files_are_the_ones_users_see() -> None:
    text = (SAMPLE / "appsettings.json").read_text(encoding="utf-8")
    assert '"ProtocolScheme": "MTLS_POP"' in text
    assert "127.0.0.1" not in text
