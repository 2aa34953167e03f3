"""A read-only, case-insensitive view of the merged configuration (keys keep their spelling)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class CaseInsensitiveMapping(Mapping[str, Any]):
    """`m["azuread"]` finds `"AzureAd"`. Nested objects come back as views too, lists as tuples.

    Iteration yields keys as first spelt in the configuration.
    """

    __slots__ = ("_data", "_index")

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})
        self._index: dict[str, str] = {}
        for key in self._data:
            self._index.setdefault(key.casefold(), key)

    def actual_key(self, key: str) -> str | None:
        """The key as spelt in the configuration, or None when absent."""
        return self._index.get(key.casefold())

    def __getitem__(self, key: str) -> Any:
        actual = self._index.get(key.casefold()) if isinstance(key, str) else None
        if actual is None:
            raise KeyError(key)
        return _view(self._data[actual])

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"CaseInsensitiveMapping({list(self._data)!r})"


def _view(value: Any) -> Any:
    if isinstance(value, Mapping) and not isinstance(value, CaseInsensitiveMapping):
        return CaseInsensitiveMapping(value)
    if isinstance(value, list):
        return tuple(_view(item) for item in value)
    return value
