"""An LRU-bounded pool of HTTP clients, one per key, each created exactly once.

Keys are binding thumbprints (None for the client without a certificate), so a request for a
certificate always goes through connections made with that certificate. An evicted client is
closed at once when idle, or when its last lease ends (in-flight requests drain first).

Using a client that is already in the pool takes no lock: a dict read, a lease counted by a
list append, and the LRU update (`OrderedDict.move_to_end`), each atomic under the GIL.
Creating a client and evicting one happen under a lock with a double check, so concurrent first
callers share one client. A lease is counted *before* it checks whether its entry was evicted,
and an eviction marks the entry *before* it counts the leases, so of a lease and an eviction that
race, at least one sees the other: the eviction leaves the closing to the lease, or the lease
gives the entry up and takes the locked path. Whoever closes a client first claims it, so it is
closed once. After `close()` the pool makes no client: `PoolClosedError` (nothing opened after
shutdown is left behind unclosed).
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Generic, TypeVar

logger = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
C = TypeVar("C")


@dataclass(slots=True)
class _Entry(Generic[C]):
    """A pooled client; `leases` holds one item per lease in progress."""

    client: C
    leases: list[None] = field(default_factory=list)
    evicted: bool = False
    _closing: threading.Lock = field(default_factory=threading.Lock)

    def claim_closing(self) -> bool:
        """True for exactly one caller: the one that closes the client."""
        return self._closing.acquire(blocking=False)


class PoolClosedError(RuntimeError):
    """A client was asked of a pool that was closed (the services were shut down). A misuse
    for callers of `client_for`; `HttpTransport.attempt` turns it into a `NetworkError`."""


class ClientPool(Generic[K, C]):
    """Clients by key. `dispose(key, client)` closes a client that left the pool."""

    def __init__(self, max_size: int, dispose: Callable[[K, C], None]) -> None:
        if max_size < 1:
            raise ValueError("the client pool needs room for at least one client")
        self._max_size = max_size
        self._dispose = dispose
        self._entries: OrderedDict[K, _Entry[C]] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: K, create: Callable[[], C]) -> C:
        """The client for `key`, created with `create()` on first use."""
        entry = self._entries.get(key)
        if entry is not None and not entry.evicted and self._touch(key):
            return entry.client
        return self._locked_entry(key, create, lease=False).client

    def acquire(self, key: K, create: Callable[[], C]) -> _Entry[C]:
        """A lease on the client of `key` (`.client`), created with `create()` on first use;
        lock-free when the client is pooled. Give it back with `release(key, entry)`: an
        eviction during the lease waits for it to end before closing the client."""
        entry = self.acquire_existing(key)
        return entry if entry is not None else self._locked_entry(key, create, lease=True)

    def acquire_existing(self, key: K) -> _Entry[C] | None:
        """A lock-free lease on the live entry of `key`, or None when it must be created (or
        re-created) under the lock first."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        entry.leases.append(None)  # counted first: an eviction from now on sees this lease
        if not entry.evicted:
            try:
                self._entries.move_to_end(key)  # `_touch`, inline on the hot path
            except KeyError:  # evicted meanwhile
                pass
            else:
                return entry
        self.release(key, entry)
        return None

    def release(self, key: K, entry: _Entry[C]) -> None:
        """End a lease of `acquire`/`acquire_existing`; the client closes if it was evicted."""
        entry.leases.pop()
        if entry.evicted and not entry.leases and entry.claim_closing():
            self._dispose_all([(key, entry.client)])

    @contextmanager
    def lease(self, key: K, create: Callable[[], C]) -> Iterator[C]:
        """`acquire` … `release` as a context manager."""
        entry = self.acquire(key, create)
        try:
            yield entry.client
        finally:
            self.release(key, entry)

    def close(self) -> list[tuple[K, C]]:
        """`clear()` for good: no client is made from now on."""
        with self._lock:
            self._closed = True
        return self.clear()

    def clear(self) -> list[tuple[K, C]]:
        """Empty the pool and hand back every client (leased or not) for the caller to close."""
        cleared: list[tuple[K, C]] = []
        with self._lock:
            while self._entries:
                key, entry = self._entries.popitem(last=False)
                entry.evicted = True
                if entry.claim_closing():  # closed by the caller now, never again by a lease
                    cleared.append((key, entry.client))
        return cleared

    def _touch(self, key: K) -> bool:
        """Make `key` the most recently used; False when it was evicted meanwhile."""
        try:
            self._entries.move_to_end(key)
        except KeyError:
            return False
        return True

    def _locked_entry(self, key: K, create: Callable[[], C], *, lease: bool) -> _Entry[C]:
        """The slow path: find or create the entry under the lock, evicting the LRU ones."""
        evicted: list[tuple[K, C]] = []
        with self._lock:
            if self._closed:
                raise PoolClosedError("the HTTP client pool is closed: the services were shut down")
            entry = self._entries.get(key)
            if entry is None:
                entry = self._add(key, create(), evicted)
            else:
                self._entries.move_to_end(key)
            if lease:
                entry.leases.append(None)
        self._dispose_all(evicted)
        return entry

    def _add(self, key: K, client: C, evicted: list[tuple[K, C]]) -> _Entry[C]:
        """Insert a new entry (under the lock) and evict the least recently used beyond size."""
        entry = _Entry(client)
        self._entries[key] = entry
        logger.debug("new HTTP client for %r (%d in pool)", key, len(self._entries))
        while len(self._entries) > self._max_size:
            old_key, old = self._entries.popitem(last=False)
            if old is entry:  # lock-free LRU updates moved every other key behind it
                self._entries[old_key] = old
                continue
            old.evicted = True  # marked first: a lease from now on sees it
            if not old.leases and old.claim_closing():
                evicted.append((old_key, old.client))
        return entry

    def _dispose_all(self, entries: list[tuple[K, C]]) -> None:
        for key, client in entries:
            logger.debug("closing HTTP client for %r", key)
            self._dispose(key, client)
