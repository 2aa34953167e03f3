"""Two replicas of a daemon (two built factories, each with its own L1) share tokens through Redis.

The real stack: settings with a `TokenCache` section → container → acquirer → emulator over TLS.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from redis_servers import RedisServer

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.cache import DistributedTokenCache
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings import load_settings

API = "MyApi"


def replica(
    manifest: EmulatorManifest, redis_url: str, scheme: str, directory: Path
) -> ServiceProvider:
    """One replica, configured the way containers usually are: environment variables only."""
    app = manifest.apps[0]
    variables = {
        "AzureAd__Instance": manifest.instance,
        "AzureAd__TenantId": manifest.tenant_id,
        "AzureAd__ClientId": app.client_id,
        "AzureAd__ClientCredentials__0__SourceType": "Path",
        "AzureAd__ClientCredentials__0__CertificateDiskPath": app.certificate_pfx_path,
        "AzureAd__ClientCredentials__0__CertificatePassword": app.certificate_pfx_password or "",
        "TokenCache__Type": "Redis",
        "TokenCache__ConnectionString": redis_url,
        "TokenCache__KeyPrefix": "fleet",
        f"{API}__BaseUrl": manifest.resource.base_url,
        f"{API}__RelativePath": "whoami",
        f"{API}__Scopes__0": manifest.resource.scope,
        f"{API}__RequestAppToken": "true",
        f"{API}__ProtocolScheme": scheme,
    }
    settings = load_settings(directory, environ=variables).settings
    factory = TokenAcquirerFactory(settings, environ=manifest.env())
    factory.add_downstream_api(API)
    return factory.build()


def token_requests(emulator: Emulator) -> list[str]:
    return [
        e["endpoint"]
        for e in emulator.requests()
        if e["endpoint"] in ("entra.token", "entra.mtls_token")
    ]


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_a_second_replica_is_served_the_first_replicas_token(
    identity_web_emulator_clean: Emulator, redis_server: RedisServer, scheme: str, tmp_path: Path
) -> None:
    emulator = identity_web_emulator_clean
    manifest = emulator.manifest
    with (
        replica(manifest, redis_server.url, scheme, tmp_path) as first,
        replica(manifest, redis_server.url, scheme, tmp_path) as second,
    ):
        assert isinstance(first.container.token_cache(), DistributedTokenCache)
        assert first.downstream_api.call(API).status == 200
        response = second.downstream_api.call(API)
        options = second.downstream_api.options(API)
        result = second.token_acquirer.acquire_token_for_app(
            manifest.resource.scope, bound=options.is_mtls_pop
        )
    assert response.status == 200
    assert result.token_source.value == "cache"
    seen = response.json()
    if scheme == "MTLS_POP":
        assert seen["cnf_x5t_s256"] == seen["client_cert_x5t_s256"] is not None
    assert len(token_requests(emulator)) == 1
    assert len(redis_server.admin().keys("fleet:v1:*")) == 1
