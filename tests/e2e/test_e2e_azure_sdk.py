"""Azure SDK clients take `services.token_credential()`: azure-core, azure-storage-blob and
azure-keyvault-secrets, over real TLS to the emulator."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from azure.core import AsyncPipelineClient, PipelineClient
from azure.core.credentials import (
    AccessTokenInfo,
    SupportsTokenInfo,
    TokenCredential,
    TokenRequestOptions,
)
from azure.core.credentials_async import AsyncSupportsTokenInfo, AsyncTokenCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.core.pipeline.policies import (
    AsyncBearerTokenCredentialPolicy,
    BearerTokenCredentialPolicy,
)
from azure.core.pipeline.transport import AsyncioRequestsTransport, RequestsTransport
from azure.core.rest import HttpRequest
from azure.keyvault.secrets import SecretClient
from azure.storage.blob import BlobServiceClient
from e2e_helpers import API, build, certificate_config, token_requests, with_api

from identity_web import ConfigurationError, ServiceError
from identity_web.emulator import Emulator, EmulatorManifest


def whoami(manifest: EmulatorManifest) -> str:
    return f"{manifest.resource.base_url}whoami"


def test_the_credentials_are_what_azure_core_checks_for(manifest: EmulatorManifest) -> None:
    with build(certificate_config(manifest), manifest) as services:
        credential = services.token_credential()
        async_credential = services.async_token_credential(API)
    assert isinstance(credential, TokenCredential)
    assert isinstance(credential, SupportsTokenInfo)
    assert isinstance(async_credential, AsyncTokenCredential)
    assert isinstance(async_credential, AsyncSupportsTokenInfo)
    assert not isinstance(credential, AsyncTokenCredential)


def test_bearer_policy_in_a_real_pipeline_calls_the_resource(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    with build(certificate_config(manifest), manifest) as services:
        policy = BearerTokenCredentialPolicy(services.token_credential(), manifest.resource.scope)
        transport = RequestsTransport(connection_verify=manifest.ca_bundle)
        with PipelineClient(
            manifest.resource.base_url, policies=[policy], transport=transport
        ) as client:
            first = client.send_request(HttpRequest("GET", whoami(manifest)))
            second = client.send_request(HttpRequest("GET", whoami(manifest)))
    assert (first.status_code, second.status_code) == (200, 200)
    seen = first.json()
    assert seen["scheme"] == "Bearer"
    assert seen["appid"] == manifest.apps[0].client_id
    assert len(token_requests(emulator.requests())) == 1


async def test_async_bearer_policy_in_a_real_pipeline_calls_the_resource(
    manifest: EmulatorManifest,
) -> None:
    async with build(certificate_config(manifest), manifest) as services:
        credential = services.async_token_credential()
        policy = AsyncBearerTokenCredentialPolicy(credential, manifest.resource.scope)
        transport = AsyncioRequestsTransport(connection_verify=manifest.ca_bundle)
        async with AsyncPipelineClient(
            manifest.resource.base_url, policies=[policy], transport=transport
        ) as client:
            response = await client.send_request(HttpRequest("GET", whoami(manifest)))
        info = await credential.get_token_info(manifest.resource.scope)
    assert response.status_code == 200
    assert response.json()["scheme"] == "Bearer"
    assert isinstance(info, AccessTokenInfo)
    assert info.token_type == "Bearer"
    assert info.expires_on > time.time() + 600


def test_blob_service_client_sends_the_token_for_its_audience(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    audience = manifest.resource.scope.removesuffix("/.default")
    with build(certificate_config(manifest), manifest) as services:
        client = BlobServiceClient(
            manifest.resource.base_url,
            credential=services.token_credential(),
            audience=audience,
            connection_verify=manifest.ca_bundle,
        )
        with client:
            client.get_container_client("reports").get_blob_client("a.txt").get_blob_properties()
    [call] = emulator.requests("resource")
    assert call["status"] == 200
    assert call["path"].startswith("/reports/a.txt")
    [token_request] = token_requests(emulator.requests())
    assert token_request["form"]["scope"] == manifest.resource.scope


def test_secret_client_answers_the_vault_challenge_and_reads_a_secret(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    """Key Vault answers the SDK's first, unauthenticated request with a Bearer challenge
    naming the authority and the resource; the emulator is scripted to do the same."""
    challenge = (
        f'Bearer authorization="{manifest.instance}{manifest.tenant_id}", '
        'resource="https://vault.azure.net"'
    )
    emulator.inject_faults(
        "resource", [{"status": 401, "headers": {"WWW-Authenticate": challenge}, "body": ""}]
    )
    with build(certificate_config(manifest), manifest) as services:
        client = SecretClient(
            manifest.resource.base_url,
            credential=services.token_credential(),
            verify_challenge_resource=False,  # the vault is on 127.0.0.1, not *.vault.azure.net
            connection_verify=manifest.ca_bundle,
        )
        with client:
            secret = client.get_secret("db-password")
    assert secret.value == "emulated-secret-value-of-db-password"
    [token_request] = token_requests(emulator.requests())
    assert token_request["form"]["scope"] == "https://vault.azure.net/.default"


def test_a_section_with_mtls_pop_is_refused_with_the_reason(manifest: EmulatorManifest) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    with build(config, manifest) as services, pytest.raises(ConfigurationError) as caught:
        services.token_credential(API)
    message = str(caught.value)
    assert f"{API}.ProtocolScheme: is MTLS_POP" in message
    assert "BearerTokenCredentialPolicy" in message
    assert "http_client(name)" in message


def test_claims_skip_the_cache_and_reach_the_token_endpoint(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    claims = json.dumps({"access_token": {"nbf": {"essential": True, "value": "1"}}})
    with build(certificate_config(manifest), manifest) as services:
        credential = services.token_credential()
        credential.get_token(manifest.resource.scope)
        credential.get_token(manifest.resource.scope)
        credential.get_token(manifest.resource.scope, claims=claims, enable_cae=True)
    requests = token_requests(emulator.requests())
    assert len(requests) == 2
    assert "claims" not in requests[0]["form"]
    assert "claims" in requests[1]["form"]


def test_another_tenant_is_refused_unless_allowed(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    other = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    with build(certificate_config(manifest), manifest) as services:
        refusing = services.token_credential()
        with pytest.raises(ClientAuthenticationError, match="additionally_allowed_tenants"):
            refusing.get_token(manifest.resource.scope, tenant_id=other)
        assert token_requests(emulator.requests()) == []
        same = refusing.get_token(manifest.resource.scope, tenant_id=manifest.tenant_id.upper())
        assert same.token
        allowing = services.token_credential(additionally_allowed_tenants=["*"])
        with pytest.raises(ClientAuthenticationError) as caught:
            allowing.get_token(manifest.resource.scope, tenant_id=other)
    assert isinstance(caught.value.__cause__, ServiceError)  # the emulator knows no such tenant
    assert token_requests(emulator.requests())[-1]["path"].startswith(f"/{other}/")


def test_one_scope_per_request(manifest: EmulatorManifest) -> None:
    with build(certificate_config(manifest), manifest) as services:
        credential = services.token_credential()
        with pytest.raises(ValueError, match="exactly one scope"):
            credential.get_token(manifest.resource.scope, "https://vault.azure.net/.default")


def test_a_managed_identity_section_serves_azure_sdk_clients(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = with_api(certificate_config(manifest), AcquireTokenOptions={"ManagedIdentity": {}})
    with build(config, manifest) as services:
        token = services.token_credential(API).get_token(
            manifest.resource.scope, tenant_id="ignored-for-managed-identity"
        )
    assert token.token
    assert [e["endpoint"] for e in emulator.requests()] == ["imds.token"]


def test_failures_reach_the_sdk_as_client_authentication_error(
    manifest: EmulatorManifest,
) -> None:
    with build(certificate_config(manifest), manifest) as services:
        credential = services.token_credential()
        with pytest.raises(ClientAuthenticationError) as caught:
            credential.get_token("api://unknown-resource/.default")
    cause: Any = caught.value.__cause__
    assert isinstance(cause, ServiceError)
    assert str(cause) in str(caught.value)


def test_a_sections_tenant_is_kept_when_the_sdk_names_that_tenant(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    other = "72f988bf-86f1-41af-91ab-2d7cd011db47"
    config = with_api(certificate_config(manifest), AcquireTokenOptions={"Tenant": other})
    with build(config, manifest) as services:
        credential = services.token_credential(API)
        for tenant_id in (None, other):
            with pytest.raises(ClientAuthenticationError):  # the emulator knows one tenant only
                credential.get_token(manifest.resource.scope, tenant_id=tenant_id)
        with pytest.raises(ClientAuthenticationError, match="additionally_allowed_tenants"):
            credential.get_token(manifest.resource.scope, tenant_id=manifest.tenant_id)
    paths = [e["path"] for e in token_requests(emulator.requests())]
    assert len(paths) == 2
    assert all(path.startswith(f"/{other}/") for path in paths)


def test_get_token_info_reads_the_options_and_refuses_a_pop_request(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    with build(certificate_config(manifest), manifest) as services:
        credential = services.token_credential()
        with pytest.raises(ValueError, match="Bearer tokens only"):
            credential.get_token_info(manifest.resource.scope, options={"pop": True})
        assert token_requests(emulator.requests()) == []
        options: TokenRequestOptions = {"tenant_id": manifest.tenant_id, "enable_cae": True}
        info = credential.get_token_info(manifest.resource.scope, options=options)
    assert info.token_type == "Bearer"
    assert len(token_requests(emulator.requests())) == 1
