"""The cache as effects of the step protocol: read the shared level, take and leave a turn.

The acquirer's steps yield these on a miss; the sync driver calls `run()`, the async driver
awaits `run_async()` (redis.asyncio: the loop never blocks). `StoreToken` (the write) lives in
`_base`.
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from identity_web.cache._base import CacheEntry, CacheKey, TokenCache
from identity_web.cache._coordinator import DistributedCoordinator, Turn
from identity_web.protocol.steps import Blocking


@dataclass(frozen=True, slots=True)
class ReadCache(Blocking):
    """Effect: `cache.get(key)`, every level (L2 on an L1 miss); `get_async` on the async side."""

    cache: TokenCache = field(repr=False)
    key: CacheKey

    def run(self) -> CacheEntry | None:
        return self.cache.get(self.key)

    def run_async(self) -> Awaitable[CacheEntry | None]:
        return self.cache.get_async(self.key)


@dataclass(slots=True)
class Held:
    """A turn taken by `HoldTurn`, to give back with `LeaveTurn`."""

    turn: Turn
    context: AbstractContextManager[Turn] | AbstractAsyncContextManager[Turn] = field(repr=False)


@dataclass(frozen=True, slots=True)
class HoldTurn(Blocking):
    """Effect: enter `coordinator.hold(key, newer_than)` (or `hold_async`); answers `Held`."""

    coordinator: DistributedCoordinator = field(repr=False)
    key: CacheKey
    newer_than: float = 0.0

    def run(self) -> Held:
        context = self.coordinator.hold(self.key, self.newer_than)
        return Held(context.__enter__(), context)

    def run_async(self) -> Awaitable[Held]:
        return self._enter()

    async def _enter(self) -> Held:
        context = self.coordinator.hold_async(self.key, self.newer_than)
        return Held(await context.__aenter__(), context)


@dataclass(frozen=True, slots=True)
class LeaveTurn(Blocking):
    """Effect: leave the `Held` turn (releases the key's fleet-wide lock if this caller had it)."""

    held: Held

    def run(self) -> None:
        context = self.held.context
        assert isinstance(context, AbstractContextManager)
        context.__exit__(None, None, None)

    def run_async(self) -> Awaitable[Any] | None:
        context = self.held.context
        if isinstance(context, AbstractAsyncContextManager):
            return context.__aexit__(None, None, None)
        return None  # entered by the sync driver: left in a worker thread
