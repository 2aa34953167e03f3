"""Token caches: the `TokenCache` protocol, `CacheKey`, `CacheEntry`, `InMemoryTokenCache`.

A distributed (Redis) level plugs in behind the same protocol later: `CacheKey.as_string()` is
its key and `CacheEntry` holds only plain values apart from the in-process binding certificate.
"""

from identity_web.cache._base import (
    EXPIRY_MARGIN,
    CacheEntry,
    CacheKey,
    StoreToken,
    TokenCache,
    variant_digest,
)
from identity_web.cache._memory import InMemoryTokenCache

__all__ = [
    "EXPIRY_MARGIN",
    "CacheEntry",
    "CacheKey",
    "InMemoryTokenCache",
    "StoreToken",
    "TokenCache",
    "variant_digest",
]
