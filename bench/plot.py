"""PNG charts of a benchmark run (`./run bench --plot`): one per benchmark, next to the JSON.

Each chart shows, per case and peer, the ours/peer ratio as a bar; where the implementations
alternated in rounds, a line from the lowest to the highest ratio of one round (ours and the
peer measured back to back), so a bar is read with its spread. matplotlib is a bench-only
dependency (the `dev` extra).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def spread(row: dict[str, Any]) -> tuple[float, float]:
    """(below, above) the ratio: how far the round ratios reach (0, 0 without rounds)."""
    ratio, rounds = row["ratio_ours_over_peer"], row.get("round_ratios") or []
    if not rounds:
        return 0.0, 0.0
    return max(0.0, ratio - min(rounds)), max(0.0, max(rounds) - ratio)


def write_charts(document: dict[str, Any], directory: Path) -> list[Path]:
    """One PNG per benchmark that has peer rows; the paths written."""
    import matplotlib  # noqa: PLC0415 - only `--plot` needs it

    matplotlib.use("Agg")
    written = []
    for benchmark in document["benchmarks"]:
        rows = [r for r in benchmark["rows"] if r["role"] == "peer" and r["ratio_ours_over_peer"]]
        if rows:
            path = directory / f"{benchmark['name']}.png"
            _chart(benchmark, rows, path)
            written.append(path)
    return written


def _chart(benchmark: dict[str, Any], rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib.pyplot as plt  # noqa: PLC0415 - only `--plot` needs it

    ratios = [row["ratio_ours_over_peer"] for row in rows]
    below, above = zip(*(spread(row) for row in rows), strict=True)
    positions = list(range(len(rows)))
    figure, axes = plt.subplots(figsize=(10, 0.5 * len(rows) + 1.8))
    axes.barh(positions, ratios, xerr=[below, above], color="#3b7dd8", ecolor="#222", capsize=3)
    axes.set_yticks(positions, [f"{r['case']}\nvs {r['impl']}" for r in rows], fontsize=7)
    axes.invert_yaxis()
    axes.axvline(1.0, color="#999", linewidth=1, linestyle="--")
    if max(ratios) / max(min(ratios), 1e-9) > 20:
        axes.set_xscale("log")
    metric, meaning = benchmark["ratio_metric"], benchmark["ratio_meaning"]
    axes.set_xlabel(f"ours / peer ({metric}); {meaning}", fontsize=8)
    axes.set_title(benchmark["title"], fontsize=9)
    for position, value in zip(positions, ratios, strict=True):
        axes.annotate(
            f"{value:.3g}",
            (value, position),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=7,
        )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
