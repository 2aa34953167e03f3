"""`python -m bench.markdown RESULTS.json`: the tables of a run as Markdown, for
docs/performance.md (so the page shows exactly what the JSON holds)."""

from __future__ import annotations

import importlib
import json
import statistics
import sys
from collections.abc import Sequence
from typing import Any

from bench._report import Column, _show

ROUNDS = "ours/peer per round: median (min to max)"


def table(benchmark: dict[str, Any]) -> str:
    columns: Sequence[Column] = importlib.import_module(f"bench.{benchmark['name']}").COLUMNS
    header = [
        "case",
        "implementation",
        *(c.header for c in columns),
        "ours/peer",
        "per round: median (min to max)",
    ]
    lines = [f"#### {benchmark['title']}", "", _row(header), _row(["---"] * len(header))]
    for row in benchmark["rows"]:
        ratio = row.get("ratio_ours_over_peer")
        rounds = row.get("round_ratios") or []
        spread = (
            f"{statistics.median(rounds):.3g} ({min(rounds):.3g} to {max(rounds):.3g})"
            if rounds
            else ""
        )
        shown = "" if row["role"] == "ours" else (f"**{ratio:.3g}**" if ratio else "-")
        cells = [row["case"], row["impl"], *(_show(row.get(c.key), c.digits) for c in columns)]
        lines.append(_row([*cells, shown, spread]))
    lines += ["", f"ours/peer: {benchmark['ratio_metric']}, {benchmark['ratio_meaning']}."]
    lines += [f"{note[0].upper()}{note[1:]}." for note in benchmark["notes"]]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cell.replace("|", "\\|").replace("\n", " ") for cell in cells) + " |"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    with open(arguments[0], encoding="utf-8") as handle:
        document = json.load(handle)
    print("\n\n".join(table(b) for b in document["benchmarks"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
