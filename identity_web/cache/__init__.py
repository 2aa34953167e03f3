"""Token caches: the `TokenCache` protocol, `CacheKey`, `CacheEntry`, the memory cache, and the
Redis-backed `DistributedTokenCache` with its cross-process `RedisCoordinator`.

`build_token_cache(settings.token_cache, environ=...)` returns the configured cache and its
coordinator. The Redis classes are imported on first use: redis-py is needed only when
`TokenCache.Type` is Redis. See docs/cache.md.
"""

from typing import TYPE_CHECKING

from identity_web._lazy import lazy_attributes as _lazy_attributes
from identity_web.cache._base import (
    EXPIRY_MARGIN,
    CacheEntry,
    CacheKey,
    StoreToken,
    TokenCache,
    variant_digest,
)
from identity_web.cache._coordinator import (
    ON_YOUR_OWN,
    DistributedCoordinator,
    LocalCoordinator,
    LockPolicy,
    RedisCoordinator,
    Turn,
)
from identity_web.cache._effects import Held, HoldTurn, LeaveTurn, ReadCache
from identity_web.cache._layered import DistributedTokenCache, in_process_level
from identity_web.cache._memory import InMemoryTokenCache
from identity_web.cache._setup import CacheSetup, build_token_cache

if TYPE_CHECKING:
    from identity_web.cache._redis import RedisStore

_LAZY = {"RedisStore": "identity_web.cache._redis"}

__all__ = [
    "EXPIRY_MARGIN",
    "ON_YOUR_OWN",
    "CacheEntry",
    "CacheKey",
    "CacheSetup",
    "DistributedCoordinator",
    "DistributedTokenCache",
    "Held",
    "HoldTurn",
    "InMemoryTokenCache",
    "LeaveTurn",
    "LocalCoordinator",
    "LockPolicy",
    "ReadCache",
    "RedisCoordinator",
    "RedisStore",
    "StoreToken",
    "TokenCache",
    "Turn",
    "build_token_cache",
    "in_process_level",
    "variant_digest",
]

__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())
