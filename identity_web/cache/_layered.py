"""`DistributedTokenCache`: the in-memory L1 in front of the Redis L2.

`peek` reads L1 only: the cache-hit path stays one dictionary lookup, no Redis round trip.
`get` serves L1 while its entry is good (usable and not yet due for refresh); otherwise it asks
L2 and keeps the newer of the two, writing an L2 hit back into L1 — so a process whose L1 entry
is due for refresh picks up the token another process of the fleet has already refreshed.
`set` writes L1, then L2 with a TTL equal to the token's remaining life (only what may leave
the process: see `identity_web.cache._codec`). A failing L2 is a miss; L1 is never touched by
an L2 failure.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from identity_web.cache._base import CacheEntry, CacheKey
from identity_web.cache._memory import InMemoryTokenCache

if TYPE_CHECKING:
    from identity_web.cache._redis import RedisStore


class DistributedTokenCache:
    """A `TokenCache`: `l1` (None when DisableL1Cache) before the Redis `store`."""

    def __init__(
        self,
        store: RedisStore,
        l1: InMemoryTokenCache | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self._l1 = l1
        self._clock = clock

    @property
    def local_level(self) -> InMemoryTokenCache | None:
        """The in-process level (L1) that `peek` reads; None when DisableL1Cache."""
        return self._l1

    def peek(self, key: CacheKey) -> CacheEntry | None:
        return self._l1.get(key) if self._l1 is not None else None

    def get(self, key: CacheKey) -> CacheEntry | None:
        local = self.peek(key)
        if self._local_suffices(key, local):
            return local
        return self.remember(key, self.store.run(self.store.get_op(key), None, "read"))

    async def get_async(self, key: CacheKey) -> CacheEntry | None:
        local = self.peek(key)
        if self._local_suffices(key, local):
            return local
        remote = await self.store.run_async(self.store.get_op(key), None, "read")
        return self.remember(key, remote)

    def set(self, key: CacheKey, entry: CacheEntry) -> None:
        if self._l1 is not None:
            self._l1.set(key, entry)
        self.store.run(self.store.set_op(key, entry), None, "write")

    async def set_async(self, key: CacheKey, entry: CacheEntry) -> None:
        if self._l1 is not None:
            self._l1.set(key, entry)
        await self.store.run_async(self.store.set_op(key, entry), None, "write")

    def remove(self, key: CacheKey) -> None:
        if self._l1 is not None:
            self._l1.remove(key)
        self.store.run(self.store.remove_op(key), None, "delete")

    async def remove_async(self, key: CacheKey) -> None:
        if self._l1 is not None:
            self._l1.remove(key)
        await self.store.run_async(self.store.remove_op(key), None, "delete")

    def remember(self, key: CacheKey, remote: CacheEntry | None) -> CacheEntry | None:
        """The newer of L1's entry and `remote` (an L2 hit), which L1 keeps from now on."""
        local = self.peek(key)
        if remote is None or (local is not None and local.expires_on >= remote.expires_on):
            return local
        if self._l1 is not None:
            self._l1.set(key, remote)
        return remote

    def close(self) -> None:
        self.store.close()

    async def aclose(self) -> None:
        """`close()` from a coroutine, the running loop's Redis client closed before it returns."""
        await self.store.aclose()

    def _local_suffices(self, key: CacheKey, local: CacheEntry | None) -> bool:
        """L2 cannot do better: the key never goes to L2, or L1's entry is good and not due."""
        if not key.shareable:
            return True
        if local is None:
            return False
        now = self._clock()
        return local.usable(now) and not local.wants_refresh(now)


def in_process_level(cache: object) -> InMemoryTokenCache | None:
    """The level `cache.peek` reads when it is one of ours, whose `generation` tells whether an
    entry read from it may have changed since; None for any other `TokenCache`."""
    if isinstance(cache, InMemoryTokenCache):
        return cache
    if isinstance(cache, DistributedTokenCache):
        return cache.local_level
    return None
