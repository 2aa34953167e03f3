"""Results of one benchmark run: rows per implementation, ratios, tables and JSON."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

OURS = "ours"
PEER = "peer"

Metric = float | int | str | list[float] | None


@dataclass(frozen=True, slots=True)
class Column:
    """One table column: the metric key, its header and how to show it."""

    key: str
    header: str
    digits: int = 1


@dataclass(frozen=True, slots=True)
class Label:
    """Which case, which implementation, and whether it is ours or a peer."""

    case: str
    impl: str
    role: str

    def row(self, metrics: dict[str, Metric], note: str = "") -> Row:
        return Row(self.case, self.impl, self.role, metrics, note=note)


@dataclass(slots=True)
class Row:
    """One implementation measured in one case. `ratio` is ours/this-peer (peer rows only)."""

    case: str
    impl: str
    role: str
    metrics: dict[str, Metric]
    ratio: float | None = None
    note: str = ""
    round_ratios: list[float] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"case": self.case, "impl": self.impl, "role": self.role}
        data.update(self.metrics)
        data["ratio_ours_over_peer"] = self.ratio
        if self.round_ratios:
            data["round_ratios"] = self.round_ratios
        if self.note:
            data["note"] = self.note
        return data


@dataclass(slots=True)
class BenchResult:
    """A benchmark's rows; `ratio_metric` is what the ours/peer ratio compares."""

    name: str
    title: str
    columns: Sequence[Column]
    ratio_metric: str
    ratio_meaning: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, row: Row) -> Row:
        self.rows.append(row)
        return row

    def compute_ratios(self) -> None:
        """Fill `ratio` of every peer row from the ours row of the same case."""
        ours = {row.case: row for row in self.rows if row.role == OURS}
        for row in self.rows:
            if row.role != PEER or row.ratio is not None or row.case not in ours:
                continue
            mine = ours[row.case].metrics
            row.ratio = ratio(mine.get(self.ratio_metric), row.metrics.get(self.ratio_metric))
            if self.ratio_metric == "ops_per_s":
                row.round_ratios = round_ratios(
                    mine.get("round_ops_per_s"), row.metrics.get("round_ops_per_s")
                )

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "ratio_metric": self.ratio_metric,
            "ratio_meaning": self.ratio_meaning,
            "rows": [row.to_json() for row in self.rows],
            "notes": list(self.notes),
        }

    def table(self) -> str:
        headers = ["case", "implementation", *(c.header for c in self.columns), "ours/peer"]
        lines = [
            [
                row.case,
                row.impl,
                *(_show(row.metrics.get(c.key), c.digits) for c in self.columns),
                _show_ratio(row),
            ]
            for row in self.rows
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(headers)]
        out = [
            f"== {self.title} ==",
            _join(headers, widths),
            _join(["-" * w for w in widths], widths),
        ]
        out += [_join(line, widths) for line in lines]
        out.append(f"ours/peer = {self.ratio_metric} of ours / of that peer; {self.ratio_meaning}")
        out += [f"note: {note}" for note in self.notes]
        return "\n".join(out)


def ratio(ours: Metric, peer: Metric) -> float | None:
    if not isinstance(ours, int | float) or not isinstance(peer, int | float) or peer == 0:
        return None
    return float(ours) / float(peer)


def round_ratios(ours: object, peer: object) -> list[float]:
    """Ours/peer of each alternating round (the same round of both): the ratio's spread."""
    if not isinstance(ours, list) or not isinstance(peer, list):
        return []
    return [o / p for o, p in zip(ours, peer, strict=False) if p]


def _show(value: Metric, digits: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _show_ratio(row: Row) -> str:
    if row.role == OURS:
        return "(ours)"
    if row.ratio is None:
        return "-"
    return f"{row.ratio:.3g}" if row.ratio < 10 else f"{row.ratio:,.1f}"


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    first, second, *rest = cells
    parts = [first.ljust(widths[0]), second.ljust(widths[1])]
    parts += [cell.rjust(width) for cell, width in zip(rest, widths[2:], strict=True)]
    return "  ".join(parts).rstrip()
