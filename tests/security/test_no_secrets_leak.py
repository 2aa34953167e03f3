"""No token, secret, assertion or private key shows in logs, reprs, errors or the emulator log.

The main flows run end to end against the emulator (real TLS) with every logger at DEBUG. A
transport wrapper (composition, swapped in through the container) records each request the
library sends, so the test knows the exact secret values that went over the wire: client
secrets, client assertions, access tokens in Authorization headers. None of them, nor the PEM
body of any private key involved, may appear anywhere a person or a log pipeline would see.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives import serialization
from dependency_injector import providers

from identity_web import (
    ServiceError,
    ServiceProvider,
    TokenAcquirerFactory,
    TokenTypeMismatchError,
)
from identity_web.acquisition import TokenRequestOptions
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.protocol._binding import PrivateKey
from identity_web.protocol.oauth2 import ClientCredentialsRequest
from identity_web.protocol.steps import Step
from identity_web.settings import IdentityWebSettings
from identity_web.transport import Drivers, HttpTransport

T = TypeVar("T")
API = "MyApi"
SECRET_FIELDS = ("client_secret", "client_assertion")


@dataclass
class RecordingTransport:
    """The real transport; every request sent through it is kept (values included)."""

    inner: HttpTransport
    sent: list[HttpRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.drivers = Drivers(self.send, self.send_async)

    def send(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        return self.inner.attempt(request)

    async def send_async(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        return await self.inner.attempt_async(request)

    def run(self, step: Step[T]) -> T:
        return self.drivers.run(step)

    async def run_async(self, step: Step[T]) -> T:
        return await self.drivers.run_async(step)

    def secrets_sent(self) -> set[str]:
        """Client secrets, assertions, attestation tokens and bearer values that were sent."""
        found: set[str] = set()
        for request in self.sent:
            form = request.form or {}
            found |= {form[name] for name in SECRET_FIELDS if form.get(name)}
            if isinstance(request.json_body, dict) and request.json_body.get("attestation_token"):
                found.add(request.json_body["attestation_token"])
            authorization = request.headers.get("Authorization", "")
            if authorization:
                found |= {authorization, authorization.split(" ", 1)[-1]}
        return found


@pytest.fixture
def recording(emulator: Emulator) -> Iterator[RecordingTransport]:
    with HttpTransport(ca_bundle=emulator.manifest.ca_bundle) as transport:
        yield RecordingTransport(transport)


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def api_section(manifest: EmulatorManifest, **extra: Any) -> dict[str, Any]:
    return {
        "BaseUrl": manifest.resource.base_url,
        "RelativePath": "whoami",
        "Scopes": [manifest.resource.scope],
        "RequestAppToken": True,
        **extra,
    }


def app_section(manifest: EmulatorManifest, credential: dict[str, Any]) -> dict[str, Any]:
    return {
        "Instance": manifest.instance,
        "TenantId": manifest.tenant_id,
        "ClientId": manifest.apps[0].client_id,
        "ClientCredentials": [credential],
    }


def secret_credential(manifest: EmulatorManifest, secret: str | None = None) -> dict[str, Any]:
    return {"SourceType": "ClientSecret", "ClientSecret": secret or manifest.apps[0].client_secret}


def pfx_credential(manifest: EmulatorManifest) -> dict[str, Any]:
    app = manifest.apps[0]
    return {
        "SourceType": "Path",
        "CertificateDiskPath": app.certificate_pfx_path,
        "CertificatePassword": app.certificate_pfx_password,
    }


def build(
    config: dict[str, Any], manifest: EmulatorManifest, recording: RecordingTransport
) -> ServiceProvider:
    settings = IdentityWebSettings.from_mapping(config)
    factory = TokenAcquirerFactory(settings, environ=manifest.env())
    factory.container.transport.override(providers.Object(recording))
    return factory.add_downstream_api(API).build()


def key_material(key: PrivateKey) -> set[str]:
    """The base64 lines of the key's unencrypted PKCS#8 PEM."""
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
    return {line for line in pem.splitlines() if line and not line.startswith("-----")}


def settings_secrets(manifest: EmulatorManifest) -> set[str]:
    app = manifest.apps[0]
    return {value for value in (app.client_secret, app.certificate_pfx_password) if value}


def observable(
    caplog: pytest.LogCaptureFixture, emulator: Emulator, *objects: object
) -> dict[str, str]:
    """Everything a person or a log pipeline sees, by where it comes from."""
    records = [f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records]
    return {
        "logs": "\n".join(records),
        "reprs": "\n".join(repr(item) for item in objects),
        "strs": "\n".join(str(item) for item in objects),
        "emulator request log": json.dumps(emulator.requests()),
    }


def assert_nothing_leaks(secrets: set[str], seen: dict[str, str]) -> None:
    assert secrets, "the flow sent no secret at all: the test would prove nothing"
    leaks = {
        (where, secret[:12] + "...")
        for where, text in seen.items()
        for secret in secrets
        if secret in text
    }
    assert leaks == set()
    assert not any("PRIVATE KEY" in text for text in seen.values())


def assert_emulator_log_masks(emulator: Emulator) -> None:
    for entry in emulator.requests():
        for name in (*SECRET_FIELDS, "attestation_token"):
            assert entry["form"].get(name, "***") == "***", (entry["endpoint"], name)
        assert entry["form"].get("csr", "<omitted>") == "<omitted>"
        rest = entry["headers"].get("authorization", " ***").partition(" ")[2]
        assert rest == "***", entry["endpoint"]


def run_flow(
    config: dict[str, Any],
    emulator: Emulator,
    recording: RecordingTransport,
    caplog: pytest.LogCaptureFixture,
) -> None:
    manifest = emulator.manifest
    with build(config, manifest, recording) as services:
        response = services.downstream_api.call(API)
        assert response.status == 200, response.text
        token = services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
        options = services.settings.downstream_api(API)
        header = services.authorization_header_provider.create_authorization_header(options)
        credential = (
            services.container.credentials().current
            if services.settings.azure_ad.client_credentials
            else None
        )
        secrets = recording.secrets_sent() | settings_secrets(manifest) | {token.access_token}
        binding = response.binding_certificate
        if binding is not None:
            secrets |= key_material(binding.private_key)
        if credential is not None and hasattr(credential, "certificate"):
            secrets |= key_material(credential.certificate.private_key)
        objects = [
            response,
            token,
            header,
            credential,
            services.settings,
            services.settings.azure_ad,
            *services.settings.azure_ad.client_credentials,
            options,
            *recording.sent,
            *(e for e in services.container.token_cache()._entries.values()),
        ]
        seen = observable(caplog, emulator, *objects)
    assert_nothing_leaks(secrets, seen)
    assert_emulator_log_masks(emulator)


# -- the main flows --------------------------------------------------------------------------


def test_client_secret_bearer(
    emulator: Emulator, recording: RecordingTransport, debug_logs: pytest.LogCaptureFixture
) -> None:
    manifest = emulator.manifest
    config = {"AzureAd": app_section(manifest, secret_credential(manifest))}
    run_flow({**config, API: api_section(manifest)}, emulator, recording, debug_logs)
    sent = recording.sent[0].form or {}
    assert sent["client_secret"] == manifest.apps[0].client_secret  # the secret was recorded


def test_certificate_bearer_with_a_client_assertion(
    emulator: Emulator, recording: RecordingTransport, debug_logs: pytest.LogCaptureFixture
) -> None:
    manifest = emulator.manifest
    config = {"AzureAd": app_section(manifest, pfx_credential(manifest))}
    run_flow({**config, API: api_section(manifest)}, emulator, recording, debug_logs)
    assert any((r.form or {}).get("client_assertion") for r in recording.sent)


def test_certificate_mtls_pop(
    emulator: Emulator, recording: RecordingTransport, debug_logs: pytest.LogCaptureFixture
) -> None:
    manifest = emulator.manifest
    config = {
        "AzureAd": app_section(manifest, pfx_credential(manifest)),
        API: api_section(manifest, ProtocolScheme="MTLS_POP"),
    }
    run_flow(config, emulator, recording, debug_logs)
    assert any(r.tls_identity is not None for r in recording.sent)


def test_managed_identity_mtls_pop(
    emulator: Emulator, recording: RecordingTransport, debug_logs: pytest.LogCaptureFixture
) -> None:
    manifest = emulator.manifest
    managed = {"ManagedIdentity": {}}
    config = {
        "AzureAd": {},
        API: api_section(manifest, ProtocolScheme="MTLS_POP", AcquireTokenOptions=managed),
    }
    with build(config, manifest, recording) as services:
        response = services.downstream_api.call(API)
        assert response.status == 200, response.text
        options = services.settings.downstream_api(API)
        header = services.authorization_header_provider.create_authorization_header(options)
        binding = response.binding_certificate
        assert binding is not None
        secrets = recording.secrets_sent() | key_material(binding.private_key)
        seen = observable(debug_logs, emulator, response, header, binding, *recording.sent)
    assert any(r.url.endswith("/issuecredential?cred-api-version=2.0") for r in recording.sent)
    assert_nothing_leaks(secrets, seen)
    assert_emulator_log_masks(emulator)


# -- failures ----------------------------------------------------------------------------------


def test_a_refused_client_secret_is_not_in_the_error(
    emulator: Emulator, recording: RecordingTransport, debug_logs: pytest.LogCaptureFixture
) -> None:
    manifest = emulator.manifest
    wrong = "wrong-secret-" + "x" * 24
    config = {
        "AzureAd": app_section(manifest, secret_credential(manifest, wrong)),
        API: api_section(manifest),
    }
    with build(config, manifest, recording) as services, pytest.raises(ServiceError) as caught:
        services.downstream_api.call(API)
    assert caught.value.status == 401
    seen = observable(debug_logs, emulator, caught.value, *recording.sent)
    assert_nothing_leaks({wrong}, seen)


def test_a_token_of_the_wrong_type_is_not_in_the_error(
    emulator: Emulator, recording: RecordingTransport, debug_logs: pytest.LogCaptureFixture
) -> None:
    manifest = emulator.manifest
    token = "bearer-token-returned-for-an-mtls-pop-request-" + "y" * 16
    body = {"token_type": "Bearer", "expires_in": 3599, "access_token": token}
    emulator.inject_faults("entra.mtls_token", [{"status": 200, "body": body}])
    config = {
        "AzureAd": app_section(manifest, pfx_credential(manifest)),
        API: api_section(manifest, ProtocolScheme="MTLS_POP"),
    }
    with (
        build(config, manifest, recording) as services,
        pytest.raises(TokenTypeMismatchError) as caught,
    ):
        services.downstream_api.call(API)
    assert len(services.container.token_cache()) == 0  # fail closed: nothing cached
    seen = observable(debug_logs, emulator, caught.value, *recording.sent)
    assert_nothing_leaks({token, *settings_secrets(manifest)}, seen)


def test_settings_reprs_hide_every_secret_valued_key() -> None:
    secrets = {
        "ClientSecret": "client-secret-value-0123456789",
        "CertificatePassword": "certificate-password-0123456789",
        "Base64EncodedValue": "TUlJQmFzZTY0RW5jb2RlZFZhbHVlMDEyMzQ1Njc4OQ==",
    }
    data = {"Password": "provider-data-password-0123456789"}
    config = {
        "AzureAd": {
            "ClientId": "c",
            "ClientCredentials": [
                {"SourceType": "ClientSecret", **secrets, "CustomSignedAssertionProviderData": data}
            ],
        }
    }
    settings = IdentityWebSettings.from_mapping(config)
    seen = repr(settings) + repr(settings.azure_ad) + repr(settings.raw)
    assert [value for value in (*secrets.values(), *data.values()) if value in seen] == []


def test_extra_header_values_stay_out_of_reprs_but_their_names_show() -> None:
    """Extra headers may carry API keys: reprs of settings and requests name them, no values."""
    key, token_key = "api-key-value-0123456789", "token-header-value-0123456789"
    api = {
        "BaseUrl": "https://api.example/",
        "ExtraHeaderParameters": {"X-Api-Key": key},
        "AcquireTokenOptions": {"ExtraHeadersParameters": {"X-Token-Key": token_key}},
    }
    options = IdentityWebSettings.from_mapping({"AzureAd": {}, API: api}).downstream_api(API)
    assert options.extra_header_parameters["X-Api-Key"] == key
    assert options.model_dump(by_alias=True)["ExtraHeaderParameters"] == {"X-Api-Key": key}
    headers = tuple(options.acquire_token_options.extra_headers_parameters.items())
    request = ClientCredentialsRequest("https://t/token", "c", "s/.default", extra_headers=headers)
    per_call = TokenRequestOptions(extra_headers_parameters={"X-Token-Key": token_key})
    seen = repr(options) + repr(request) + repr(per_call)
    assert "X-Api-Key" in seen
    assert "X-Token-Key" in seen
    assert key not in seen
    assert token_key not in seen
