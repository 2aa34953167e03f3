"""0. Import cost: the time one statement takes in a fresh interpreter (median of many).

Each statement runs in its own new `python -c` process, timed inside it with
`time.perf_counter` around the statement only (interpreter start-up excluded); the statements
alternate, so load on the machine spreads over all of them. Ours is what a daemon writes first,
`from identity_web import TokenAcquirerFactory`; the second ours row adds what making a factory
loads (the container, the settings models, httpx), so the deferred cost is shown too.
"""

from __future__ import annotations

import statistics
import subprocess
import sys

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Row
from bench._setup import BenchEnv

NAME = "import_cost"
TITLE = "0. import cost in a fresh interpreter (median)"
CASE = "import"
STATEMENTS = (
    (
        "identity-web: from identity_web import TokenAcquirerFactory",
        OURS,
        "from identity_web import TokenAcquirerFactory",
    ),
    ("msal: import msal", PEER, "import msal"),
    ("azure-identity: import azure.identity", PEER, "import azure.identity"),
)
FACTORY = (
    "identity-web: … + what a factory loads (container, settings, httpx)",
    "from identity_web import TokenAcquirerFactory; import identity_web.container",
)
PROBE = "import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"

COLUMNS = (
    Column("median_ms", "median ms", 1),
    Column("min_ms", "min ms", 1),
    Column("max_ms", "max ms", 1),
    Column("n", "runs", 0),
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    del env  # no server: each statement runs in a new interpreter
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="median_ms",
        ratio_meaning="<1 means importing ours takes less time (target: <= 1 against msal)",
    )
    statements = [statement for _, _, statement in STATEMENTS] + [FACTORY[1]]
    times = measure(statements, params.import_runs)
    for (impl, role, _), seconds in zip(STATEMENTS, times, strict=False):
        result.add(Row(CASE, impl, role, _metrics(seconds)))
    result.add(Row("import, then a factory", FACTORY[0], OURS, _metrics(times[-1])))
    result.compute_ratios()
    result.notes.append(
        "each statement in its own fresh interpreter, statements alternating; the time of the "
        "statement alone (start-up excluded); the same interpreter and site-packages for all"
    )
    return result


def measure(statements: list[str], runs: int) -> list[list[float]]:
    """Seconds per run of each statement, in `runs` alternating rounds."""
    times: list[list[float]] = [[] for _ in statements]
    for _ in range(runs):
        for index, statement in enumerate(statements):
            completed = subprocess.run(
                [sys.executable, "-c", PROBE.format(statement=statement)],
                capture_output=True,
                text=True,
                check=True,
                timeout=120,
            )
            times[index].append(float(completed.stdout.strip()))
    return times


def _metrics(seconds: list[float]) -> dict[str, float | int]:
    return {
        "median_ms": statistics.median(seconds) * 1000,
        "min_ms": min(seconds) * 1000,
        "max_ms": max(seconds) * 1000,
        "n": len(seconds),
    }
