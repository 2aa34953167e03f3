"""One acquisition per key across processes: a short Redis lock per key, waiters poll for the entry.

The acquirer's in-process single-flight elects one caller per key per process; that caller
wraps its acquisition in `hold(key)` (threads) or `hold_async(key)` (asyncio):

```python
with coordinator.hold(plan.key, newer_than=stale.expires_on if stale else 0.0) as turn:
    if turn.entry is not None:
        return turn.entry            # another process acquired it meanwhile (L1 has it now)
    token = run_the_flow()           # this process holds the key's lock, or Redis is away
    cache.set(plan.key, entry)       # write before the lock is released (on leaving `with`)
```

The lock is `SET name:lock <random token> NX PX lock_ttl`, released by compare-and-delete (a
Lua script that deletes only our token), so a holder that outlived its lock never frees a later
holder's. A holder that dies leaves its lock to expire after `lock_ttl`; a waiter polls the
entry every `poll_interval`, takes the lock over once it is free, and after `max_wait` gives up
and acquires on its own. Redis unreachable: `hold` yields at once with no entry and no lock.
Keys whose tokens never leave the process (`CacheKey.shareable` false) are never locked.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    asynccontextmanager,
    contextmanager,
)
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from identity_web.cache._base import CacheEntry, CacheKey

if TYPE_CHECKING:
    from identity_web.cache._layered import DistributedTokenCache


@dataclass(frozen=True, slots=True)
class LockPolicy:
    """`lock_ttl`: how long a dead holder blocks the key; `max_wait`: how long a waiter polls
    for the holder's entry before acquiring on its own; `poll_interval`: between two looks."""

    lock_ttl: float = 5.0
    max_wait: float = 6.0
    poll_interval: float = 0.05

    @property
    def polls(self) -> int:
        return max(1, round(self.max_wait / self.poll_interval))


@dataclass(frozen=True, slots=True)
class Turn:
    """What `hold` found. `entry`: another process's fresh token (use it, acquire nothing);
    `leader`: this caller holds the key's fleet-wide lock. Neither: acquire on your own."""

    entry: CacheEntry | None = None
    leader: bool = False


ON_YOUR_OWN = Turn()


class DistributedCoordinator(Protocol):
    """Elects one acquirer per cache key across processes (see the module docstring)."""

    def hold(self, key: CacheKey, newer_than: float = 0.0) -> AbstractContextManager[Turn]: ...

    def hold_async(
        self, key: CacheKey, newer_than: float = 0.0
    ) -> AbstractAsyncContextManager[Turn]: ...


class LocalCoordinator:
    """No fleet: every `hold` is the caller's own turn at once (the memory cache's partner)."""

    @contextmanager
    def hold(self, key: CacheKey, newer_than: float = 0.0) -> Iterator[Turn]:
        yield ON_YOUR_OWN

    @asynccontextmanager
    async def hold_async(self, key: CacheKey, newer_than: float = 0.0) -> AsyncIterator[Turn]:
        yield ON_YOUR_OWN


class RedisCoordinator:
    """Per-key locks in the Redis of a `DistributedTokenCache`; found entries go into its L1.

    An entry another process wrote counts when it is usable now and expires after
    `newer_than` (pass the expiry of the token being refreshed, or 0.0 on a cold miss).
    """

    def __init__(
        self,
        cache: DistributedTokenCache,
        policy: LockPolicy | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._store = cache.store
        self.policy = policy or LockPolicy()
        self._clock = clock

    @contextmanager
    def hold(self, key: CacheKey, newer_than: float = 0.0) -> Iterator[Turn]:
        if not key.shareable:
            yield ON_YOUR_OWN
            return
        token = secrets.token_hex(16)
        op = self._store.lock_op(key, token, self._wanted(newer_than), self.policy)
        turn = self._turn(key, *self._store.run(op, (False, None), "lock"))
        try:
            yield turn
        finally:
            if turn.leader:
                self._store.run(self._store.unlock_op(key, token), None, "unlock")

    @asynccontextmanager
    async def hold_async(self, key: CacheKey, newer_than: float = 0.0) -> AsyncIterator[Turn]:
        if not key.shareable:
            yield ON_YOUR_OWN
            return
        token = secrets.token_hex(16)
        op = self._store.lock_op(key, token, self._wanted(newer_than), self.policy)
        turn = self._turn(key, *await self._store.run_async(op, (False, None), "lock"))
        try:
            yield turn
        finally:
            if turn.leader:
                await self._store.run_async(self._store.unlock_op(key, token), None, "unlock")

    def _wanted(self, newer_than: float) -> Callable[[CacheEntry], bool]:
        def wanted(entry: CacheEntry) -> bool:
            return entry.expires_on > newer_than and entry.usable(self._clock())

        return wanted

    def _turn(self, key: CacheKey, leader: bool, found: CacheEntry | None) -> Turn:
        if found is None:
            return Turn(leader=leader)
        return Turn(entry=self._cache.remember(key, found), leader=False)
