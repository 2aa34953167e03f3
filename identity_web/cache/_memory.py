"""`InMemoryTokenCache`: a dict, read without locks, bounded in size."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from identity_web.cache._base import CacheEntry, CacheKey


class InMemoryTokenCache:
    """An in-process token cache.

    Reads are one `dict.get` (atomic under the GIL, no lock). Writes take a lock; when the cache
    grows past `max_entries`, expired entries are dropped first, then the least recently
    written ones.

    `generation` changes after every write and removal (and on `touch()`): an entry read at a
    generation read before it is still the cache's entry while the generation has not changed,
    which the header provider's hit path checks instead of looking the key up again. Each
    change stores a value never used before (`itertools.count`, atomic under the GIL), so
    `touch()` needs no lock: of two changes that race, whichever stores last still leaves a
    value nobody read before both changes were made.
    """

    def __init__(
        self, max_entries: int = 10_000, *, clock: Callable[[], float] = time.time
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._entries: dict[CacheKey, CacheEntry] = {}
        self._max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._generations = itertools.count(1)
        self.generation = 0

    def get(self, key: CacheKey) -> CacheEntry | None:
        return self._entries.get(key)

    peek = get

    async def get_async(self, key: CacheKey) -> CacheEntry | None:
        return self._entries.get(key)

    async def set_async(self, key: CacheKey, entry: CacheEntry) -> None:
        self.set(key, entry)

    async def remove_async(self, key: CacheKey) -> None:
        self.remove(key)

    def set(self, key: CacheKey, entry: CacheEntry) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = entry
            if len(self._entries) > self._max_entries:
                self._shrink()
            self.generation = next(self._generations)

    def remove(self, key: CacheKey) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self.generation = next(self._generations)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.generation = next(self._generations)

    def touch(self) -> None:
        """A new generation without a write: what was read before may no longer be the answer
        (the acquirer calls it when its selected client credential changes). No lock."""
        self.generation = next(self._generations)

    def __len__(self) -> int:
        return len(self._entries)

    def _shrink(self) -> None:
        now = self._clock()
        for key in [k for k, e in self._entries.items() if e.expires_on <= now]:
            del self._entries[key]
        excess = len(self._entries) - self._max_entries
        if excess > 0:
            for key in list(self._entries)[:excess]:
                del self._entries[key]
