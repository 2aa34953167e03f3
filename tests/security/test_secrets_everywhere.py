"""Secrets everywhere, not only in logs: the repr, str and exception texts of the public objects
(services, adapters, results, errors of every layer, settings with wrong-typed secrets, cache
options) and the CLI's `--json` outputs never show a token, an assertion, a secret, a password
or key material."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from test_no_secrets_leak import api_section, app_section, pfx_credential, secret_credential

from identity_web import (
    ConfigurationError,
    IdentityWebError,
    ServiceProvider,
    TokenAcquirerFactory,
)
from identity_web.credentials import Base64EncodedCertificateLoader, PathCertificateLoader
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings import CredentialDescription, IdentityWebSettings

API = "MyApi"
SECRET = "Sup3r-s3cret-Value-7f1c2e"  # a value that must never be shown
JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")


@pytest.fixture
def emulator(identity_web_emulator_clean: Emulator) -> Emulator:
    return identity_web_emulator_clean


def _config(manifest: EmulatorManifest, credential: dict[str, Any], **api: Any) -> dict[str, Any]:
    extra = {"ExtraHeaderParameters": {"X-Api-Key": SECRET}, **api}
    return {"AzureAd": app_section(manifest, credential), API: api_section(manifest, **extra)}


def _build(config: dict[str, Any], manifest: EmulatorManifest) -> ServiceProvider:
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=manifest.env())
    return factory.add_downstream_api(API).build()


def _texts(*objects: object) -> Iterator[str]:
    """repr and str of each object; for exceptions, of every cause and context too."""
    for item in objects:
        yield repr(item)
        yield str(item)
        seen: set[int] = set()
        error = item if isinstance(item, BaseException) else None
        while error is not None and id(error) not in seen:
            seen.add(id(error))
            yield repr(error)
            yield str(error)
            error = error.__cause__ or error.__context__


def _key_lines(key: Any) -> set[str]:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {line for line in pem.splitlines() if not line.startswith("-----")}


def assert_hidden(secrets: set[str], *objects: object) -> None:
    secrets = {s for s in secrets if s}
    assert secrets, "nothing to look for: the test would prove nothing"
    for text in _texts(*objects):
        leaked = [s[:10] + "..." for s in secrets if s in text]
        assert not leaked, f"{leaked} in {text[:200]!r}"
        assert not JWT.search(text), text[:200]
        assert "PRIVATE KEY" not in text


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_services_adapters_and_results_after_use(emulator: Emulator, scheme: str) -> None:
    manifest = emulator.manifest
    config = _config(manifest, pfx_credential(manifest), ProtocolScheme=scheme)
    with _build(config, manifest) as services:
        response = services.downstream_api.call(API)
        assert response.status == 200
        options = services.settings.downstream_api(API)
        header = services.authorization_header_provider.create_authorization_header(options)
        token = services.token_acquirer.acquire_token_for_app(
            manifest.resource.scope, bound=scheme == "MTLS_POP"
        )
        objects: list[object] = [
            services, services.downstream_api, services.token_acquirer,
            services.authorization_header_provider, services.settings,
            services.settings.token_cache, response, header, token, options,
        ]  # fmt: skip
        if scheme == "Bearer":
            credential = services.token_credential(API)
            info = credential.get_token_info(manifest.resource.scope)
            objects += [credential, services.requests_auth(API), services.httpx_auth(API)]
            secrets_seen = {info.token}
        else:
            objects.append(services.http_client(API))
            secrets_seen = _key_lines(response.binding_certificate.private_key)  # type: ignore[union-attr]
        secrets = {
            token.access_token,
            header.header_value,
            SECRET,
            manifest.apps[0].certificate_pfx_password or SECRET,
            *secrets_seen,
            *_key_lines(emulator.demo_credential.private_key),
        }
        assert_hidden(secrets, *objects)


SECRET_KEYS = ["ClientSecret", "CertificatePassword", "Base64EncodedValue"]


@pytest.mark.parametrize("key", SECRET_KEYS)
@pytest.mark.parametrize("value", [[SECRET], {"v": SECRET}, [1, SECRET]])
def test_configuration_errors_never_echo_a_secret_value(key: str, value: Any) -> None:
    config = {"AzureAd": {"ClientId": "c", "ClientCredentials": [
        {"SourceType": "ClientSecret", key: value}
    ]}}  # fmt: skip
    with pytest.raises(ConfigurationError) as caught:
        IdentityWebSettings.from_mapping(config)
    assert_hidden({SECRET}, caught.value, *caught.value.problems)


def test_a_redis_password_stays_out_of_options_errors_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = f"redis://user:{SECRET}@127.0.0.1:1/0"
    section = {"Type": "Redis", "ConnectionString": url}
    settings = IdentityWebSettings.from_mapping({"TokenCache": section})
    assert_hidden({SECRET}, settings.token_cache, settings)
    remote = {"TokenCache": {"Type": "Redis", "ConnectionString": f"redis://u:{SECRET}@10.1.2.3"}}
    with pytest.raises(ConfigurationError) as caught:
        IdentityWebSettings.from_mapping(remote)
    assert_hidden({SECRET}, caught.value)


def test_credential_load_errors_never_show_passwords_or_values(tmp_path: Path) -> None:
    pfx = Path(tmp_path / "bad.pfx")
    pfx.write_bytes(b"\x30\x82\x01\x00\x02\x01\x03" + b"\x00" * 300)
    errors: list[IdentityWebError] = []
    loads = [
        (PathCertificateLoader(), {"SourceType": "Path", "CertificateDiskPath": str(pfx),
                                   "CertificatePassword": SECRET}),
        (Base64EncodedCertificateLoader(), {"SourceType": "Base64Encoded",
                                            "Base64EncodedValue": SECRET + "!!",
                                            "CertificatePassword": SECRET}),
        (Base64EncodedCertificateLoader(), {"SourceType": "Base64Encoded",
                                            "Base64EncodedValue": base64.b64encode(
                                                SECRET.encode() * 4).decode()}),
    ]  # fmt: skip
    for loader, fields in loads:
        description = CredentialDescription.model_validate(fields)
        with pytest.raises(IdentityWebError) as caught:
            loader.load(description)  # type: ignore[attr-defined]
        errors.append(caught.value)
        assert_hidden({SECRET}, description)
    assert_hidden({SECRET, base64.b64encode(SECRET.encode() * 4).decode()[:24]}, *errors)


def test_transport_errors_on_a_token_request_carry_no_form_value(emulator: Emulator) -> None:
    manifest = emulator.manifest
    for kind in ("connection_reset", "tls_alert", "truncated_body"):
        with _build(_config(manifest, secret_credential(manifest)), manifest) as services:
            emulator.inject_faults("entra.token", [{"status": None, "kind": kind}])
            with pytest.raises(IdentityWebError) as caught:
                services.downstream_api.call(API)
        assert_hidden({manifest.apps[0].client_secret or SECRET, SECRET}, caught.value)


def test_a_refused_downstream_call_error_shows_no_token(emulator: Emulator) -> None:
    manifest = emulator.manifest
    with _build(_config(manifest, secret_credential(manifest)), manifest) as services:
        token = services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
        emulator.inject_faults("resource", [{"status": 500, "body": "boom"}])
        with pytest.raises(IdentityWebError) as caught:
            services.downstream_api.get(API)
    assert_hidden({token.access_token, SECRET, manifest.apps[0].client_secret or ""}, caught.value)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "identity_web", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_cli_json_outputs_show_no_secret_and_no_token(
    emulator: Emulator, tmp_path: Path, scheme: str
) -> None:
    manifest = emulator.manifest
    config = _config(manifest, pfx_credential(manifest), ProtocolScheme=scheme)
    config["AzureAd"]["ClientCredentials"].append(secret_credential(manifest))
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    env = manifest.env()
    runs = [
        _cli("config", "validate", "--config-dir", str(tmp_path), "--json", env=env),
        _cli("token", API, "--config-dir", str(tmp_path), "--json", env=env),
        _cli("call", API, "--config-dir", str(tmp_path), "--json", env=env),
    ]
    for run in runs:
        assert run.returncode == 0, run.stderr
        json.loads(run.stdout)
    secrets = {SECRET, manifest.apps[0].client_secret, manifest.apps[0].certificate_pfx_password}
    assert_hidden({s for s in secrets if s}, *(run.stdout + run.stderr for run in runs))
    config["AzureAd"]["ClientCredentials"][1]["ClientSecret"] = [SECRET]
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    invalid = _cli("config", "validate", "--config-dir", str(tmp_path), "--json", env=env)
    assert invalid.returncode == 2
    assert_hidden({SECRET}, invalid.stdout + invalid.stderr)
