"""Two replicas of a daemon (two built factories, each with its own L1) share tokens through Redis.

The real stack: settings with a `TokenCache` section → container → acquirer → emulator over TLS.
"""

from __future__ import annotations

from typing import Any

import pytest
from redis_servers import RedisServer

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.cache import DistributedTokenCache
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings import IdentityWebSettings

API = "MyApi"


def replica(manifest: EmulatorManifest, redis_url: str, **api: Any) -> ServiceProvider:
    app = manifest.apps[0]
    config = {
        "AzureAd": {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": app.client_id,
            "ClientCredentials": [
                {
                    "SourceType": "Path",
                    "CertificateDiskPath": app.certificate_pfx_path,
                    "CertificatePassword": app.certificate_pfx_password,
                }
            ],
        },
        "TokenCache": {"Type": "Redis", "ConnectionString": redis_url, "KeyPrefix": "fleet"},
        API: {
            "BaseUrl": manifest.resource.base_url,
            "RelativePath": "whoami",
            "Scopes": [manifest.resource.scope],
            "RequestAppToken": True,
            **api,
        },
    }
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=manifest.env())
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
    identity_web_emulator_clean: Emulator, redis_server: RedisServer, scheme: str
) -> None:
    emulator = identity_web_emulator_clean
    manifest = emulator.manifest
    with (
        replica(manifest, redis_server.url, ProtocolScheme=scheme) as first,
        replica(manifest, redis_server.url, ProtocolScheme=scheme) as second,
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
