"""Deep merge of configuration layers, case-insensitive, with the source of every value.

The rules follow .NET's configuration providers, where a configuration is a flat map of
`Section:Key:0:Name` paths:

* keys match case-insensitively at every level; the first spelling seen is kept;
* a list is merged index by index (a later `[C]` over `[A, B]` gives `[C merged over A, B]`),
  and an object whose keys are all numbers (`{"0": ...}`, as environment variables produce)
  is a list written by index;
* a scalar never erases an object or a list beneath it (in .NET both would coexist and binding
  an object uses the children), while an object or list replaces a scalar.

Only explicit arguments (`Merged.add(..., replace_lists=True)`) replace lists instead of
merging them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str | int, ...]

_MISSING: Any = object()


@dataclass
class Merged:
    """The merged data (plain dicts and lists) and the source name of each leaf path."""

    data: dict[str, Any] = field(default_factory=dict)
    sources: dict[Path, str] = field(default_factory=dict)

    def add(self, layer: Mapping[str, Any], source: str, *, replace_lists: bool = False) -> None:
        """Merge one layer over what is there."""
        merger = _Merger(self.sources, source, replace_lists)
        self.data = merger.merge(self.data, layer, ())

    def add_variables(self, variables: Iterable[tuple[str, str]], source: str) -> None:
        """Merge `Section__Key__0__Name=value` variables as one layer (sorted, so the outcome is
        stable): `X__5__A` and `X__5__B` land in one list item, as in .NET."""
        tree: dict[str, Any] = {}
        for name, value in sorted(variables):
            segments = name.split("__")
            if all(segments):
                _nest_into(tree, segments, value)
        if tree:
            self.add(tree, source)


def _nest_into(tree: dict[str, Any], segments: list[str], value: str) -> None:
    """Set `value` at `segments` in `tree`, keys matched case-insensitively; a value never
    replaces a section already there (as in `Merged.add`)."""
    node = tree
    for segment in segments[:-1]:
        key = find_key(node, segment) or segment
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    last = find_key(node, segments[-1]) or segments[-1]
    if not isinstance(node.get(last), dict):
        node[last] = value


def _is_index_map(value: Mapping[str, Any]) -> bool:
    return bool(value) and all(is_index(str(key)) for key in value)


def is_index(segment: str) -> bool:
    """A list index as .NET binds it: ASCII digits only (`"²".isdigit()` is true, but `int`
    refuses it)."""
    return segment.isascii() and segment.isdigit()


def find_key(mapping: Mapping[str, Any], key: str) -> str | None:
    """The spelling of `key` in `mapping` (case-insensitive), or None."""
    folded = key.casefold()
    for existing in mapping:
        if existing.casefold() == folded:
            return existing
    return None


@dataclass
class _Merger:
    sources: dict[Path, str]
    source: str
    replace_lists: bool

    def merge(self, base: Any, override: Any, path: Path) -> Any:
        if isinstance(override, Mapping):
            if _is_index_map(override) and not isinstance(base, Mapping):
                return self._merge_indexed(base, override, path)
            return self._merge_mapping(base, override, path)
        if isinstance(override, list | tuple):
            return self._merge_list(base, override, path)
        if isinstance(base, Mapping | list):
            return base
        self.sources[path] = self.source
        return override

    def _forget(self, path: Path) -> None:
        for key in [key for key in self.sources if key[: len(path)] == path]:
            del self.sources[key]

    def _merge_mapping(self, base: Any, override: Mapping[str, Any], path: Path) -> Any:
        if isinstance(base, list):
            return base
        result: dict[str, Any] = dict(base) if isinstance(base, Mapping) else {}
        if not isinstance(base, Mapping):
            self._forget(path)
        for key, value in override.items():
            actual = find_key(result, str(key)) or str(key)
            result[actual] = self.merge(result.get(actual, _MISSING), value, (*path, actual))
        if not result:
            self.sources[path] = self.source
        return result

    def _merge_indexed(self, base: Any, override: Mapping[str, Any], path: Path) -> list[Any]:
        # By index, never padded: `__99999999999__` alone is one item, not a list that long.
        items: dict[int, Any] = dict(enumerate(base)) if isinstance(base, list) else {}
        if not isinstance(base, list):
            self._forget(path)
        for index, value in sorted(
            ((int(key), value) for key, value in override.items()), key=lambda pair: pair[0]
        ):
            items[index] = self.merge(items.get(index, _MISSING), value, (*path, index))
        kept = sorted(items)
        self._renumber(path, kept)
        return [items[index] for index in kept]

    def _renumber(self, path: Path, kept: list[int]) -> None:
        """Sources of a sparse list (`__5__` alone becomes item 0, as .NET binds it) follow
        their items to the new index, so item 0 is not shown as coming from the defaults."""
        moves = {old: new for new, old in enumerate(kept) if old != new}
        if not moves:
            return
        depth = len(path)
        under = [
            key
            for key in self.sources
            if key[:depth] == path and len(key) > depth and key[depth] in moves
        ]
        moved: dict[Path, str] = {}
        for key in under:
            old = key[depth]
            assert isinstance(old, int)
            moved[(*key[:depth], moves[old], *key[depth + 1 :])] = self.sources.pop(key)
        self.sources.update(moved)

    def _merge_list(self, base: Any, override: list[Any] | tuple[Any, ...], path: Path) -> Any:
        if isinstance(base, Mapping):
            return base
        replace = self.replace_lists or not isinstance(base, list)
        items: list[Any] = [] if replace else list(base)
        if replace:
            self._forget(path)
        for index, value in enumerate(override):
            current = items[index] if index < len(items) else _MISSING
            merged = self.merge(current, value, (*path, index))
            if index < len(items):
                items[index] = merged
            else:
                items.append(merged)
        if not items:
            self.sources[path] = self.source
        return items
