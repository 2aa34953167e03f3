"""Timing and allocation measurement: per-call latencies, throughput, tracemalloc figures."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Any

from bench._report import Metric

_clock = time.perf_counter_ns


@dataclass(frozen=True, slots=True)
class Timing:
    """`n` calls: wall time of the whole loop and the per-call latency distribution."""

    n: int
    wall_s: float
    p50_us: float
    p99_us: float
    mean_us: float
    round_ops: tuple[float, ...] = ()

    @property
    def ops_per_s(self) -> float:
        return self.n / self.wall_s if self.wall_s > 0 else float("nan")

    def metrics(self) -> dict[str, Metric]:
        return {
            "ops_per_s": self.ops_per_s,
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "mean_us": self.mean_us,
            "n": self.n,
            "round_ops_per_s": list(self.round_ops),
        }


def summarize(
    samples_ns: list[int], wall_ns: int, rounds: Sequence[tuple[int, int]] = ()
) -> Timing:
    """`rounds`: (calls, wall ns) of each alternating round, for the spread of ratios."""
    ordered = sorted(samples_ns)
    n = len(ordered)
    return Timing(
        n=n,
        wall_s=wall_ns / 1e9,
        p50_us=percentile(ordered, 0.50) / 1e3,
        p99_us=percentile(ordered, 0.99) / 1e3,
        mean_us=(sum(ordered) / n / 1e3) if n else float("nan"),
        round_ops=tuple(calls / (wall / 1e9) for calls, wall in rounds if wall > 0),
    )


def percentile(ordered: list[int], q: float) -> float:
    """Nearest-rank percentile of already sorted samples."""
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * len(ordered) + 0.5) - 1))
    return float(ordered[index])


def time_sync(call: Callable[[], Any], n: int, warmup: int = 0) -> Timing:
    """Call `call()` `n` times (after `warmup` untimed calls), timing each call."""
    for _ in range(warmup):
        call()
    samples, wall = _timed_loop(call, n)
    return summarize(samples, wall)


def _timed_loop(call: Callable[[], Any], n: int, bare: bool = False) -> tuple[list[int], int]:
    """(each call's time, the loop's wall time); `bare`: see `_bare_loop`."""
    if bare:
        return _bare_loop(*_method_and_argument(call), n)
    samples = [0] * n
    clock = _clock
    started = clock()
    for i in range(n):
        begin = clock()
        call()
        samples[i] = clock() - begin
    return samples, clock() - started


def _bare_loop(method: Callable[[Any], Any], argument: Any, n: int) -> tuple[list[int], int]:
    """For calls of well under a microsecond: `method(argument)` called as user code calls
    it (no frame of the harness's own around it), each call timed; the wall time comes from
    a second loop of `n` calls that reads no clock per call, as two clock reads and a list
    store per call would weigh as much as the call itself."""
    samples = [0] * n
    clock = _clock
    for i in range(n):
        begin = clock()
        method(argument)
        samples[i] = clock() - begin
    started = clock()
    for _ in range(n):
        method(argument)
    return samples, clock() - started


def _method_and_argument(call: Callable[[], Any]) -> tuple[Callable[[Any], Any], Any]:
    """A bare-timed call is `functools.partial(method, argument)`, taken apart here."""
    if not (isinstance(call, partial) and len(call.args) == 1 and not call.keywords):
        raise TypeError("bare timing takes functools.partial(method, argument)")
    return call.func, call.args[0]


def time_interleaved(
    calls: Sequence[tuple[Callable[[], Any], int]], rounds: int = 5
) -> list[Timing]:
    """Time several implementations in alternating rounds, so drift (CPU frequency, other
    load, a growing heap) spreads over all of them. `calls`: (call, total calls) pairs."""
    return [timing for timing, _ in time_interleaved_counting(calls, lambda: 0, rounds)]


def time_interleaved_counting(
    calls: Sequence[tuple[Callable[[], Any], int]],
    probe: Callable[[], int],
    rounds: int = 5,
    *,
    bare: bool = False,
) -> list[tuple[Timing, int]]:
    """`time_interleaved`, also summing per implementation how much `probe()` (a counter,
    e.g. requests an emulator served) grew while that implementation was being timed.
    `bare`: calls of well under a microsecond, each a `partial(method, argument)` (`_bare_loop`)."""
    samples: list[list[int]] = [[] for _ in calls]
    walls = [0] * len(calls)
    counts = [0] * len(calls)
    per_round: list[list[tuple[int, int]]] = [[] for _ in calls]
    for call, n in calls:
        for _ in range(max(1, n // 10)):
            call()
    for _ in range(rounds):
        for index, (call, n) in enumerate(calls):
            before = probe()
            part, wall = _timed_loop(call, max(1, n // rounds), bare)
            counts[index] += probe() - before
            samples[index] += part
            walls[index] += wall
            per_round[index].append((len(part), wall))
    return [
        (summarize(part, wall, spread), count)
        for part, wall, count, spread in zip(samples, walls, counts, per_round, strict=True)
    ]


async def time_async_interleaved(
    calls: Sequence[tuple[Callable[[], Awaitable[Any]], int]],
    rounds: int = 5,
    *,
    bare: bool = False,
) -> list[Timing]:
    """`time_interleaved` for coroutine functions, awaited one call at a time; `bare` as in
    `time_interleaved_counting`."""
    samples: list[list[int]] = [[] for _ in calls]
    walls = [0] * len(calls)
    for call, n in calls:
        for _ in range(max(1, n // 10)):
            await call()
    per_round: list[list[tuple[int, int]]] = [[] for _ in calls]
    for _ in range(rounds):
        for index, (call, n) in enumerate(calls):
            part, wall = await _timed_async_loop(call, max(1, n // rounds), bare)
            samples[index] += part
            walls[index] += wall
            per_round[index].append((len(part), wall))
    return _summaries(samples, walls, per_round)


async def _timed_async_loop(
    call: Callable[[], Awaitable[Any]], n: int, bare: bool
) -> tuple[list[int], int]:
    """`_timed_loop` awaiting each call."""
    samples = [0] * n
    clock = _clock
    if not bare:
        started = clock()
        for i in range(n):
            begin = clock()
            await call()
            samples[i] = clock() - begin
        return samples, clock() - started
    method, argument = _method_and_argument(call)
    for i in range(n):
        begin = clock()
        await method(argument)
        samples[i] = clock() - begin
    started = clock()
    for _ in range(n):
        await method(argument)
    return samples, clock() - started


def _summaries(
    samples: list[list[int]], walls: list[int], per_round: list[list[tuple[int, int]]]
) -> list[Timing]:
    return [
        summarize(part, wall, spread)
        for part, wall, spread in zip(samples, walls, per_round, strict=True)
    ]


async def time_async_concurrent(
    calls: Sequence[Callable[[], Awaitable[Any]]], callers: int, per_caller: int, rounds: int = 3
) -> list[Timing]:
    """For each coroutine function: `callers` tasks started together, each awaiting `call()`
    `per_caller // rounds` times; implementations alternate in `rounds` rounds. Throughput is
    every call over the wall time from the start to the last call's end, summed over rounds."""
    samples: list[list[int]] = [[] for _ in calls]
    walls = [0] * len(calls)
    per_round = max(1, per_caller // rounds)

    async def caller(call: Callable[[], Awaitable[Any]], into: list[int]) -> None:
        for _ in range(per_round):
            begin = _clock()
            await call()
            into.append(_clock() - begin)

    per_round_walls: list[list[tuple[int, int]]] = [[] for _ in calls]
    for _ in range(rounds):
        for index, call in enumerate(calls):
            started = _clock()
            await asyncio.gather(*(caller(call, samples[index]) for _ in range(callers)))
            walls[index] += _clock() - started
            per_round_walls[index].append((callers * per_round, _clock() - started))
    return _summaries(samples, walls, per_round_walls)


def time_threads(
    calls: Sequence[tuple[Callable[[], Any], int]], threads: int, rounds: int = 3
) -> list[Timing]:
    """For each (call, calls per thread): `threads` threads released together, each calling
    `call()`; implementations alternate in `rounds` rounds. Throughput is every call over the
    wall time from release to the last call's end, summed over the rounds."""
    samples: list[list[int]] = [[] for _ in calls]
    walls = [0] * len(calls)
    per_round: list[list[tuple[int, int]]] = [[] for _ in calls]
    with ThreadPoolExecutor(threads) as pool:
        for _ in range(rounds):
            for index, (call, per_thread) in enumerate(calls):
                part, wall = _thread_round(pool, call, threads, max(1, per_thread // rounds))
                samples[index] += part
                walls[index] += wall
                per_round[index].append((len(part), wall))
    return _summaries(samples, walls, per_round)


def _thread_round(
    pool: ThreadPoolExecutor, call: Callable[[], Any], threads: int, per_thread: int
) -> tuple[list[int], int]:
    barrier = threading.Barrier(threads + 1)
    results: list[list[int]] = [[] for _ in range(threads)]

    def worker(index: int) -> None:
        samples = results[index]
        barrier.wait()
        for _ in range(per_thread):
            begin = _clock()
            call()
            samples.append(_clock() - begin)

    futures = [pool.submit(worker, i) for i in range(threads)]
    barrier.wait()
    started = _clock()
    for future in futures:
        future.result()
    wall = _clock() - started
    return [s for samples in results for s in samples], wall


@dataclass(frozen=True, slots=True)
class Allocations:
    """tracemalloc figures per call.

    `peak_bytes`: the most memory live at once during one call, above what was live before it
    (the transient working set: temporaries, copies, parsed structures). `retained_bytes` and
    `retained_blocks`: what each call leaves alive while its result is kept.
    """

    peak_bytes: float
    retained_bytes: float
    retained_blocks: float

    def metrics(self) -> dict[str, Metric]:
        return {
            "alloc_peak_bytes": self.peak_bytes,
            "retained_bytes": self.retained_bytes,
            "retained_blocks": self.retained_blocks,
        }


def measure_allocations(call: Callable[[], Any], n: int) -> Allocations:
    """Call `call()` `n` times under tracemalloc, keeping every result alive until the end."""
    call()  # warm: memoized state is not a per-call cost
    kept: list[Any] = [None] * n
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        peak_sum = 0
        for i in range(n):
            tracemalloc.reset_peak()
            live, _ = tracemalloc.get_traced_memory()
            kept[i] = call()
            _, peak = tracemalloc.get_traced_memory()
            peak_sum += peak - live
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    own = tracemalloc.Filter(False, __file__)
    diff = after.filter_traces([own]).compare_to(before.filter_traces([own]), "filename")
    kept.clear()
    return Allocations(
        peak_bytes=peak_sum / n,
        retained_bytes=sum(d.size_diff for d in diff) / n,
        retained_blocks=sum(d.count_diff for d in diff) / n,
    )
