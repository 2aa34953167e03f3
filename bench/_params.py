"""How much each benchmark does: the default run and the `--quick` (smoke test) run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Params:
    quick: bool
    hit_calls: int
    alloc_calls: int
    cold_calls: int
    concurrency: int
    async_concurrency: int
    sts_delay_ms: int
    downstream_calls: int
    naive_calls: int
    downstream_threads: int
    per_thread_calls: int
    async_callers: int
    per_caller_calls: int
    memory_entries: int
    import_runs: int
    cold_path_runs: int


DEFAULT = Params(
    quick=False,
    hit_calls=100_000,
    alloc_calls=2_000,
    cold_calls=300,
    concurrency=64,
    async_concurrency=1_000,
    sts_delay_ms=100,
    downstream_calls=1_000,
    naive_calls=100,
    downstream_threads=8,
    per_thread_calls=150,
    async_callers=100,
    per_caller_calls=60,
    memory_entries=10_000,
    import_runs=15,
    cold_path_runs=15,
)

QUICK = Params(
    quick=True,
    hit_calls=1_000,
    alloc_calls=100,
    cold_calls=10,
    concurrency=16,
    async_concurrency=32,
    sts_delay_ms=50,
    downstream_calls=20,
    naive_calls=5,
    downstream_threads=4,
    per_thread_calls=5,
    async_callers=10,
    per_caller_calls=3,
    memory_entries=1_000,
    import_runs=1,
    cold_path_runs=2,
)
