"""When a token past its `refresh_on` may be refreshed again after a refresh failed.

A failed refresh keeps the still-valid token in use; the next attempt waits `first` seconds,
doubling with each further failure up to `longest`. A success forgets the failures. The state
is a dict per acquirer keyed by the single-flight key; it is read on the cache-hit path of a
token that is due, so reading it is one dict lookup.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field


@dataclass
class RefreshBackoff:
    first: float = 30.0
    longest: float = 300.0
    _failures: dict[Hashable, tuple[float, int]] = field(default_factory=dict, repr=False)

    def next_attempt(self, key: Hashable) -> float:
        """The time (acquirer clock) from which a refresh of `key` may run; 0.0 at once."""
        found = self._failures.get(key)
        return found[0] if found is not None else 0.0

    def failed(self, key: Hashable, now: float) -> None:
        count = self._failures.get(key, (0.0, 0))[1] + 1
        delay = min(self.longest, self.first * 2 ** (count - 1))
        if len(self._failures) > 10_000:
            self._failures.clear()
        self._failures[key] = (now + delay, count)

    def succeeded(self, key: Hashable) -> None:
        if self._failures:
            self._failures.pop(key, None)
