"""Server certificates (SAN), the client CA bundle, and the pytest plugin as a user gets it."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
import textwrap
from pathlib import Path

import emulator_testkit as kit
from cryptography import x509

from identity_web.emulator import Emulator


def test_server_certificate_names_127_0_0_1_and_localhost(emulator: Emulator) -> None:
    san = emulator.state.server_certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    # Hostname verification passes for both names, over real TLS.
    port = emulator.manifest.instance.rsplit(":", 1)[1].rstrip("/")
    with kit.client(emulator) as http:
        by_name = http.get(f"https://localhost:{port}/_emulator/faults")
        by_ip = http.get(f"https://127.0.0.1:{port}/_emulator/faults")
    assert (by_name.status_code, by_ip.status_code) == (200, 200)


def test_client_ca_bundle_holds_the_issuers_of_every_client_certificate(
    emulator: Emulator,
) -> None:
    bundle = x509.load_pem_x509_certificates(Path(emulator.manifest.client_ca_bundle).read_bytes())
    imds = kit.imds_certificate(emulator, emulator.state.managed_identities[0].client_id)
    for leaf in (emulator.demo_credential.certificate, imds.certificate):
        issuers = [ca for ca in bundle if ca.subject == leaf.issuer]
        assert len(issuers) == 1, leaf.issuer
        leaf.verify_directly_issued_by(issuers[0])
    server = x509.load_pem_x509_certificates(Path(emulator.manifest.ca_bundle).read_bytes())
    emulator.state.server_certificate.verify_directly_issued_by(server[0])


def test_users_get_the_fixtures_from_the_installed_plugin(tmp_path: Path) -> None:
    """A user's project (no conftest) uses the fixtures through the pytest11 entry point."""
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            import ssl, httpx

            def test_token(identity_web_emulator_clean):
                m = identity_web_emulator_clean.manifest
                app = m.apps[0]
                context = ssl.create_default_context(cafile=m.ca_bundle)
                response = httpx.post(
                    f"{m.instance}{m.tenant_id}/oauth2/v2.0/token",
                    data={"grant_type": "client_credentials", "client_id": app.client_id,
                          "client_secret": app.client_secret, "scope": m.resource.scope},
                    verify=context,
                )
                assert response.json()["token_type"] == "Bearer"
                assert len(identity_web_emulator_clean.requests("entra.token")) == 1
            """
        )
    )
    result = subprocess.run(  # noqa: S603 - the test interpreter, fixed arguments
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
