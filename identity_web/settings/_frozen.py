"""`FrozenMap`: the read-only, hashable mapping that settings use for key/value sections.

`HiddenValuesMap` is one whose repr shows the keys only (extra headers may carry API keys).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any


class FrozenMap(Mapping[str, Any]):
    """A read-only dict. Hashable when its values are (string maps always are)."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        self._data: dict[str, Any] = dict(data or {})

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        return hash(frozenset(self._data.items()))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self._data) == dict(other)

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"


class HiddenValuesMap(FrozenMap):
    """A `FrozenMap` whose repr names the keys but never shows a value."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"HiddenValuesMap(keys={list(self._data)!r})"
