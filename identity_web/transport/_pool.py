"""An LRU-bounded pool of HTTP clients, one per key, each created exactly once.

Keys are binding thumbprints (None for the client without a certificate), so a request for a
certificate always goes through connections made with that certificate. Creation happens under
a lock with a double check, so concurrent first callers share one client. An evicted client is
closed at once when idle, or when its last lease ends (in-flight requests drain first).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
C = TypeVar("C")


@dataclass(slots=True)
class _Entry(Generic[C]):
    client: C
    leases: int = 0
    retired: bool = False


class ClientPool(Generic[K, C]):
    """Clients by key. `dispose(key, client)` closes a client that left the pool."""

    def __init__(self, max_size: int, dispose: Callable[[K, C], None]) -> None:
        if max_size < 1:
            raise ValueError("the client pool needs room for at least one client")
        self._max_size = max_size
        self._dispose = dispose
        self._entries: OrderedDict[K, _Entry[C]] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, create: Callable[[], C]) -> C:
        """The client for `key`, created with `create()` on first use."""
        evicted: list[tuple[K, C]] = []
        with self._lock:
            entry = self._entry(key, create, evicted)
        self._dispose_all(evicted)
        return entry.client

    @contextmanager
    def lease(self, key: K, create: Callable[[], C]) -> Iterator[C]:
        """Like `get`, but an eviction during the lease waits for it to end before closing."""
        evicted: list[tuple[K, C]] = []
        with self._lock:
            entry = self._entry(key, create, evicted)
            entry.leases += 1
        self._dispose_all(evicted)
        try:
            yield entry.client
        finally:
            with self._lock:
                entry.leases -= 1
                done = entry.retired and entry.leases == 0
            if done:
                self._dispose_all([(key, entry.client)])

    def clear(self) -> list[tuple[K, C]]:
        """Empty the pool and hand back every client (leased or not) for the caller to close."""
        with self._lock:
            entries = [(key, entry.client) for key, entry in self._entries.items()]
            for entry in self._entries.values():
                entry.retired = False  # closed by the caller now, not again by a lease
            self._entries.clear()
        return entries

    def _entry(self, key: K, create: Callable[[], C], evicted: list[tuple[K, C]]) -> _Entry[C]:
        entry = self._entries.get(key)
        if entry is None:
            entry = _Entry(create())
            self._entries[key] = entry
            logger.debug("new HTTP client for %r (%d in pool)", key, len(self._entries))
            while len(self._entries) > self._max_size:
                old_key, old = self._entries.popitem(last=False)
                if old.leases:
                    old.retired = True
                else:
                    evicted.append((old_key, old.client))
        self._entries.move_to_end(key)
        return entry

    def _dispose_all(self, entries: list[tuple[K, C]]) -> None:
        for key, client in entries:
            logger.debug("closing HTTP client for %r", key)
            self._dispose(key, client)
