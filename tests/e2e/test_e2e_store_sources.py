"""A certificate from .NET's per-user store on Linux acquires tokens, Bearer and mTLS PoP."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from e2e_helpers import API, build, certificate_config, token_requests

from identity_web.emulator import Emulator, EmulatorManifest


def put_in_dotnet_store(home: Path, manifest: EmulatorManifest) -> str:
    """Store the demo certificate as `X509Store(My, CurrentUser).Add` does; its thumbprint."""
    app = manifest.apps[0]
    password = app.certificate_pfx_password
    bundle = pkcs12.load_pkcs12(
        Path(app.certificate_pfx_path).read_bytes(), password.encode() if password else None
    )
    assert bundle.cert is not None
    assert bundle.key is not None
    certificate = bundle.cert.certificate
    thumbprint = certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    store = home / ".dotnet" / "corefx" / "cryptography" / "x509stores" / "my"
    store.mkdir(parents=True)
    (store / f"{thumbprint}.pfx").write_bytes(
        pkcs12.serialize_key_and_certificates(
            None,
            bundle.key,
            certificate,
            [c.certificate for c in bundle.additional_certs] or None,
            serialization.NoEncryption(),
        )
    )
    return thumbprint


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_store_with_thumbprint_acquires_a_token_and_calls_the_resource(
    scheme: str,
    manifest: EmulatorManifest,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    thumbprint = put_in_dotnet_store(tmp_path, manifest)
    config = certificate_config(manifest, ProtocolScheme=scheme)
    config["AzureAd"]["ClientCredentials"] = [
        {
            "SourceType": "StoreWithThumbprint",
            "CertificateStorePath": "CurrentUser/My",
            "CertificateThumbprint": thumbprint,
        }
    ]
    with build(config, manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200
    seen = response.json()
    assert seen["scheme"] == ("mtls_pop" if scheme == "MTLS_POP" else "Bearer")
    if scheme == "MTLS_POP":
        assert seen["cnf_x5t_s256"] == emulator.demo_credential.x5t_s256
    assert len(token_requests(emulator.requests())) == 1
