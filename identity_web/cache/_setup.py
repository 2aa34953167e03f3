"""The token cache the `TokenCache` section asks for, with its cross-process coordinator.

Absent section or `Type: Memory` → `InMemoryTokenCache` + `LocalCoordinator`, as before there
was a section. `Type: Redis` → `DistributedTokenCache` + `RedisCoordinator`; only then is
redis-py imported, and a missing package is a configuration error that says what to install.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.cache._base import TokenCache
from identity_web.cache._coordinator import (
    DistributedCoordinator,
    LocalCoordinator,
    RedisCoordinator,
)
from identity_web.cache._layered import DistributedTokenCache
from identity_web.cache._memory import InMemoryTokenCache
from identity_web.settings._cache import SECTION, CacheType, TokenCacheOptions


@dataclass(frozen=True, slots=True)
class CacheSetup:
    cache: TokenCache
    coordinator: DistributedCoordinator


def build_token_cache(
    options: TokenCacheOptions,
    *,
    environ: Mapping[str, str],
    ca_file: str | None = None,
    clock: Callable[[], float] = time.time,
) -> CacheSetup:
    """The configured cache; ConfigurationError (with the key path) when it cannot be built."""
    if options.type is CacheType.Memory:
        return CacheSetup(
            InMemoryTokenCache(options.l1_size_limit, clock=clock), LocalCoordinator()
        )
    keys = options.encryption_keys(environ)
    try:
        importlib.import_module("redis")
    except ImportError:
        raise ConfigurationError(
            [
                ConfigurationProblem(
                    f"{SECTION}.Type",
                    "Redis needs the redis package: pip install 'identity-web[redis]'",
                )
            ]
        ) from None
    from identity_web.cache._clients import ClientOptions, RedisClients  # noqa: PLC0415 - redis only when configured
    from identity_web.cache._codec import EntryCodec  # noqa: PLC0415
    from identity_web.cache._redis import RedisStore  # noqa: PLC0415

    clients = RedisClients(options.endpoint(), ClientOptions(ca_file=ca_file))
    store = RedisStore(clients, EntryCodec(keys), prefix=options.key_prefix, clock=clock)
    l1 = (
        None if options.disable_l1_cache else InMemoryTokenCache(options.l1_size_limit, clock=clock)
    )
    cache = DistributedTokenCache(store, l1, clock=clock)
    return CacheSetup(cache, RedisCoordinator(cache, clock=clock))
