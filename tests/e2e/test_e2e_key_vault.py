"""`SourceType: KeyVault` through the public API: the certificate comes from the emulated vault
over TLS with identity-web's own managed identity token, and a rotated version is picked up by
the reload-once rule."""

from __future__ import annotations

import json
import logging
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_helpers import API, build, certificate_config, token_requests

from identity_web import (
    BindingCertificate,
    ConfigurationError,
    TokenAcquirerFactory,
    TokenRequestOptions,
)
from identity_web.cli import main
from identity_web.credentials import NoCredentialLoadedError
from identity_web.emulator import Emulator, EmulatorManifest

NAME = "app-cert"
PEM = "application/x-pem-file"
VAULT_SCOPE_RESOURCE = "https://vault.azure.net"


def key_vault_config(manifest: EmulatorManifest, **entry: Any) -> dict[str, Any]:
    config = certificate_config(manifest)
    config["AzureAd"]["ClientCredentials"] = [
        {
            "SourceType": "KeyVault",
            "KeyVaultUrl": manifest.key_vault_url,
            "KeyVaultCertificateName": NAME,
            **entry,
        }
    ]
    return config


def vault_reads(emulator: Emulator) -> list[dict[str, Any]]:
    return emulator.requests("keyvault.secrets")


def renewed(emulator: Emulator) -> BindingCertificate:
    """A new certificate (new key) for the demo app, registered with Entra."""
    from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: PLC0415
    from cryptography.x509 import Name, NameAttribute  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = Name([NameAttribute(NameOID.COMMON_NAME, "identity-web demo app v2")])
    certificate = emulator.state.ca.issue(key.public_key(), subject, days=30)
    emulator.state.add_app_certificate(emulator.demo_app.client_id, certificate)
    return BindingCertificate.create(certificate, key, (emulator.state.ca.certificate,))


def test_the_app_authenticates_with_the_vaults_certificate(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    emulator.key_vault.set_certificate(NAME, emulator.demo_credential)
    config = key_vault_config(manifest)
    config[API]["ProtocolScheme"] = "MTLS_POP"
    with build(config, manifest) as services:
        body = services.downstream_api.call(API).json()
    assert body["cnf_x5t_s256"] == emulator.demo_credential.x5t_s256  # bound to the vault's cert
    (read,) = vault_reads(emulator)
    assert (read["status"], read["query"]["api-version"]) == (200, "7.4")
    assert read["path"] == f"/secrets/{NAME}"
    (imds,) = emulator.requests("imds.token")
    assert imds["query"]["resource"] == VAULT_SCOPE_RESOURCE
    assert "client_id" not in imds["query"]  # the system-assigned identity by default


def test_a_pem_secret_and_a_user_assigned_identity(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    emulator.key_vault.set_certificate(NAME, emulator.demo_credential, content_type=PEM)
    user = next(mi for mi in manifest.managed_identities if mi.kind == "UserAssigned")
    config = key_vault_config(manifest, ManagedIdentityClientId=user.client_id)
    with build(config, manifest) as services:
        assert services.downstream_api.call(API).status == 200
    (imds,) = emulator.requests("imds.token")
    assert imds["query"]["client_id"] == user.client_id
    assert [r["status"] for r in vault_reads(emulator)] == [200]


def test_a_rotated_certificate_is_picked_up_by_the_reload_once_rule(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    emulator.key_vault.set_certificate(NAME, emulator.demo_credential)
    scope = manifest.resource.scope
    with build(key_vault_config(manifest), manifest) as services:
        first = services.token_acquirer.acquire_token_for_app(scope, bound=True)
        assert first.binding_certificate == emulator.demo_credential
        rotated = renewed(emulator)
        emulator.key_vault.set_certificate(NAME, rotated)  # a new version; the old one remains
        rejection = {"error": "invalid_client", "error_description": "AADSTS700027: revoked",
                     "error_codes": [700027]}  # fmt: skip
        emulator.inject_faults("entra.mtls_token", [{"status": 401, "body": rejection}])
        again = services.token_acquirer.acquire_token_for_app(
            scope, TokenRequestOptions(force_refresh=True), bound=True
        )
    assert again.binding_certificate is not None
    assert again.binding_certificate.x5t_s256 == rotated.x5t_s256
    posts = token_requests(emulator.requests())
    assert [p["status"] for p in posts] == [200, 401, 200]
    assert posts[2]["client_cert_x5t_s256"] == rotated.x5t_s256
    assert [r["status"] for r in vault_reads(emulator)] == [200, 200]  # loaded twice, no more


def test_a_missing_certificate_names_the_key_and_keys_vaults_error(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    with (
        build(key_vault_config(manifest), manifest) as services,
        pytest.raises(NoCredentialLoadedError) as caught,
    ):
        services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
    message = str(caught.value)
    assert "AzureAd.ClientCredentials[0].KeyVaultCertificateName" in message
    assert "404" in message
    assert "SecretNotFound" in message
    assert emulator.requests("entra.token") == []


@pytest.mark.parametrize(
    ("entry", "key", "fragment"),
    [
        ({"KeyVaultUrl": "http://127.0.0.1:1/"}, "KeyVaultUrl", "over https"),
        ({"KeyVaultUrl": None}, "KeyVaultUrl", "needs KeyVaultUrl"),
        ({"KeyVaultCertificateName": ""}, "KeyVaultCertificateName", "needs"),
    ],
)
def test_incomplete_entries_fail_at_build_time(
    emulator: Emulator, manifest: EmulatorManifest, entry: dict[str, Any], key: str, fragment: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        build(key_vault_config(manifest, **entry), manifest)
    (problem,) = caught.value.problems
    assert problem.path == f"AzureAd.ClientCredentials[0].{key}"
    assert fragment in problem.message
    assert emulator.requests() == []


def test_the_cli_exits_2_naming_the_vault_error(
    manifest: EmulatorManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    config = key_vault_config(manifest)
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    for name, value in manifest.env().items():
        monkeypatch.setenv(name, value)
    code = main(["token", API, "--config-dir", str(tmp_path), "--json"])
    assert code == 2
    assert "SecretNotFound" in json.loads(capsys.readouterr().out)["message"]


# -- the vault itself: audience, challenge, versions, error shapes ------------------------------


def vault_client(manifest: EmulatorManifest) -> httpx.Client:
    return httpx.Client(verify=ssl.create_default_context(cafile=manifest.ca_bundle), timeout=10)


def token_for(emulator: Emulator, audience: str) -> str:
    system = emulator.state.find_managed_identity()
    assert system is not None
    return emulator.state.mint_access_token(
        client_id=system.client_id, object_id=system.object_id, audience=audience, appidacr="2"
    )


def test_the_vault_checks_the_audience_and_challenges(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    emulator.key_vault.set_certificate(NAME, emulator.demo_credential)
    url = f"{manifest.key_vault_url}secrets/{NAME}"
    with vault_client(manifest) as http:
        anonymous = http.get(url, params={"api-version": "7.4"})
        wrong = http.get(
            url,
            params={"api-version": "7.4"},
            headers={"Authorization": f"Bearer {token_for(emulator, 'https://storage.azure.com')}"},
        )
        right = http.get(
            url,
            params={"api-version": "7.4"},
            headers={"Authorization": f"Bearer {token_for(emulator, VAULT_SCOPE_RESOURCE)}"},
        )
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["message"].startswith("AKV10000:")
    challenge = anonymous.headers["www-authenticate"]
    assert f'authorization="{manifest.instance}{manifest.tenant_id}"' in challenge
    assert f'resource="{VAULT_SCOPE_RESOURCE}"' in challenge
    assert wrong.status_code == 401
    assert wrong.json()["error"] == {
        "code": "Unauthorized",
        "message": "AKV10022: Invalid audience. Expected https://vault.azure.net, "
        "found: https://storage.azure.com.",
    }
    assert right.status_code == 200
    assert right.json()["contentType"] == "application/x-pkcs12"


def test_versions_are_kept_and_the_latest_is_served(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    first = emulator.key_vault.set_certificate(NAME, emulator.demo_credential)
    second = emulator.key_vault.set_certificate(NAME, emulator.demo_credential, content_type=PEM)
    headers = {"Authorization": f"Bearer {token_for(emulator, VAULT_SCOPE_RESOURCE)}"}
    base = f"{manifest.key_vault_url}secrets/{NAME}"
    with vault_client(manifest) as http:
        latest = http.get(base, params={"api-version": "7.4"}, headers=headers).json()
        old = http.get(f"{base}/{first}", params={"api-version": "7.4"}, headers=headers).json()
        unknown = http.get(f"{base}/{'0' * 32}", params={"api-version": "7.4"}, headers=headers)
        no_version = http.get(base, headers=headers)
    assert latest["id"] == f"{manifest.key_vault_url}secrets/{NAME}/{second}"
    assert latest["contentType"] == PEM
    assert old["contentType"] == "application/x-pkcs12"
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "SecretNotFound"
    assert no_version.status_code == 400
    assert no_version.json()["error"]["code"] == "BadParameter"


def test_the_vault_answers_to_its_production_name(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    from identity_web.emulator import _hosts as hosts  # noqa: PLC0415

    emulator.key_vault.set_certificate(NAME, emulator.demo_credential)
    target = manifest.resolve[f"{hosts.VAULT_HOST}:443"]
    assert manifest.resolve_wildcards["*.vault.azure.net:443"] == target
    headers = {
        "Host": hosts.VAULT_HOST,
        "Authorization": f"Bearer {token_for(emulator, VAULT_SCOPE_RESOURCE)}",
    }
    with vault_client(manifest) as http:
        answer = http.get(
            f"https://{target}/secrets/{NAME}",
            params={"api-version": "7.4"},
            headers=headers,
            extensions={"sni_hostname": hosts.VAULT_HOST},
        )
    assert answer.status_code == 200
    assert answer.json()["id"].startswith(f"https://{hosts.VAULT_HOST}/secrets/{NAME}/")


def test_the_credentials_page_key_vault_example_runs(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "credentials.md").read_text(encoding="utf-8")
    section = doc[doc.index("### Key Vault") :]
    start = section.index("```jsonc\n") + len("```jsonc\n")
    block = section[start : section.index("\n```", start)]
    (entry,) = json.loads("{" + block + "}")["ClientCredentials"]
    emulator.key_vault.set_certificate(entry["KeyVaultCertificateName"], emulator.demo_credential)
    config = certificate_config(manifest)
    config["AzureAd"]["ClientCredentials"] = [{**entry, "KeyVaultUrl": manifest.key_vault_url}]
    with build(config, manifest) as services:
        assert services.downstream_api.call(API).status == 200
    assert [r["status"] for r in vault_reads(emulator)] == [200]


def test_azure_client_id_names_the_vault_identity_when_the_entry_does_not(
    emulator: Emulator, manifest: EmulatorManifest, tmp_path: Path
) -> None:
    emulator.key_vault.set_certificate(NAME, emulator.demo_credential)
    user = next(mi for mi in manifest.managed_identities if mi.kind == "UserAssigned")
    (tmp_path / "appsettings.json").write_text(
        json.dumps(key_vault_config(manifest)), encoding="utf-8"
    )
    environ = {**manifest.env(), "AZURE_CLIENT_ID": user.client_id}
    factory = TokenAcquirerFactory.from_config_dir(tmp_path, environ=environ)
    with factory.add_downstream_api(API).build() as services:
        assert services.downstream_api.call(API).status == 200
    (imds,) = emulator.requests("imds.token")
    assert imds["query"]["client_id"] == user.client_id


def test_neither_the_key_nor_the_vault_token_reaches_the_logs(
    emulator: Emulator, manifest: EmulatorManifest, caplog: pytest.LogCaptureFixture
) -> None:
    emulator.key_vault.set_certificate(NAME, emulator.demo_credential)
    stored = emulator.key_vault.get(NAME, None)
    assert stored is not None
    caplog.set_level(logging.DEBUG, logger="identity_web")
    with build(key_vault_config(manifest), manifest) as services:
        result = services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
    assert "KeyVault=" in caplog.text  # the load was logged, by id
    assert stored.value[:40] not in caplog.text
    assert result.access_token[:40] not in caplog.text
    assert "eyJ" not in caplog.text
