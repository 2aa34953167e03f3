"""Two replicas of a daemon (two built factories, each with its own L1) share tokens through Redis.

The real stack: settings with a `TokenCache` section → container → acquirer → emulator over TLS.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fleet_helpers import API
from fleet_helpers import replica as fleet_replica
from fleet_helpers import token_requests as requests_for_tokens
from redis_servers import RedisServer

from identity_web import ServiceProvider
from identity_web.cache import DistributedTokenCache
from identity_web.emulator import Emulator, EmulatorManifest


def replica(
    manifest: EmulatorManifest, redis_url: str, scheme: str, directory: Path
) -> ServiceProvider:
    return fleet_replica(manifest.to_json(), redis_url, scheme, directory, environ=manifest.env())


def token_requests(emulator: Emulator) -> list[str]:
    return requests_for_tokens(emulator.requests())


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
