"""Smoke test of the benchmark suite: `python -m bench --quick --json` runs every benchmark,
and each one reports ours and at least one peer side by side. Structure only, no timings."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXPECTED = {
    "cache_hit",
    "cold",
    "cold_mi_key",
    "cold_paths",
    "concurrency",
    "distributed_cache",
    "downstream",
    "fleet",
    "import_cost",
    "memory",
    "resource_validation",
}


def run_bench(*arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m bench ARGUMENTS` from the project root, as `./run bench` runs it."""
    command = [sys.executable, "-m", "bench", *arguments]
    return subprocess.run(  # noqa: S603 - our own module with fixed arguments
        command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def results() -> dict[str, Any]:
    completed = run_bench("--quick", "--json")
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "==" in completed.stderr  # the tables go to stderr when JSON takes stdout
    return dict(json.loads(completed.stdout))


def _benchmarks(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["name"]: b for b in results["benchmarks"]}


def test_every_benchmark_ran(results: dict[str, Any]) -> None:
    assert set(_benchmarks(results)) == EXPECTED
    meta = results["meta"]
    assert meta["quick"] is True
    assert meta["cpu_count"] >= 1
    assert meta["versions"]["msal"]
    assert meta["versions"]["azure-identity"]


#: Benchmarks of paths no peer has (IMDS v2 and FIC with mTLS PoP): ours alone.
OURS_ONLY = {"cold_paths"}


@pytest.mark.parametrize("name", sorted(EXPECTED - OURS_ONLY))
def test_ours_and_a_peer_side_by_side(results: dict[str, Any], name: str) -> None:
    benchmark = _benchmarks(results)[name]
    rows = benchmark["rows"]
    assert {row["role"] for row in rows} == {"ours", "peer"}
    ours_cases = {row["case"] for row in rows if row["role"] == "ours"}
    metric = benchmark["ratio_metric"]
    for row in rows:
        assert isinstance(row[metric], int | float), row
        assert math.isfinite(row[metric]), row
        if row["role"] == "peer":
            assert row["case"] in ours_cases, f"peer row without ours in its case: {row}"
            assert isinstance(row["ratio_ours_over_peer"], float), row


def test_cache_hit_compares_every_peer_library(results: dict[str, Any]) -> None:
    rows = _benchmarks(results)["cache_hit"]["rows"]
    impls = {row["impl"] for row in rows}
    assert {
        "identity-web",
        "msal, client secret",
        "msal, certificate",
        "azure-identity ClientSecretCredential",
        "azure-identity CertificateCredential",
        "azure-identity aio ClientSecretCredential",
        "azure-identity aio CertificateCredential",
    } <= impls
    cases = {row["case"] for row in rows}
    for kind in ("Bearer, client secret", "Bearer, certificate", "mTLS PoP, certificate"):
        assert {kind, f"{kind}, asyncio"} <= cases
    for row in rows:  # like for like: a certificate case compares certificate peers only
        if row["role"] == "peer" and "certificate" in row["case"]:
            assert "certificate" in row["impl"].lower(), row
    synchronous = [row for row in rows if "asyncio" not in row["case"]]
    for row in synchronous:
        assert row["alloc_peak_bytes"] >= 0
        assert row["retained_bytes"] is not None


def test_concurrency_reports_request_counts(results: dict[str, Any]) -> None:
    rows = _benchmarks(results)["concurrency"]["rows"]
    assert {row["case"] for row in rows} == {"16 threads", "32 asyncio tasks"}
    for row in rows:
        assert row["callers"] == (32 if "asyncio" in row["case"] else 16)
        assert isinstance(row["token_requests"], int)
        assert row["token_requests"] >= 1
        assert row["failures"] == 0, row


def test_every_table_names_the_servers(results: dict[str, Any]) -> None:
    server = results["meta"]["resource_server"]
    assert server.startswith(("nginx", "emulator resource"))
    for benchmark in results["benchmarks"]:
        assert any(server in note for note in benchmark["notes"]), benchmark["name"]


def test_downstream_measures_threads_and_asyncio_callers(results: dict[str, Any]) -> None:
    cases = {row["case"] for row in _benchmarks(results)["downstream"]["rows"]}
    assert {"sequential", "4 threads", "10 asyncio callers"} <= cases


def test_cold_paths_time_each_step(results: dict[str, Any]) -> None:
    rows = _benchmarks(results)["cold_paths"]["rows"]
    imds = {row["impl"] for row in rows if row["case"].startswith("IMDS v2")}
    assert {"GenerateKey", "whole first header"} <= imds
    assert any("issuecredential" in impl for impl in imds), imds
    fic = [row for row in rows if row["case"].startswith("FIC")]
    assert any("token" in row["impl"] for row in fic)
    for row in rows:
        assert row["median_ms"] >= 0


def test_cold_mi_key_compares_the_background_key_with_none(results: dict[str, Any]) -> None:
    rows = _benchmarks(results)["cold_mi_key"]["rows"]
    cases = {row["case"] for row in rows}
    assert len(cases) == 3
    assert any("asyncio" in case for case in cases)
    for case in cases:
        impls = {row["impl"] for row in rows if row["case"] == case}
        assert any("background at build" in impl for impl in impls), impls
        assert any("background off" in impl for impl in impls), impls
    for row in rows:
        assert row["n"] >= 2
        if row["role"] == "peer":
            assert len(row["round_ratios"]) == row["n"]


def test_json_file_output(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    completed = run_bench("--quick", "--only", "memory", "--json", str(target))
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "memory per cached token" in completed.stdout
    document = json.loads(target.read_text(encoding="utf-8"))
    assert [b["name"] for b in document["benchmarks"]] == ["memory"]


def test_plot_writes_a_chart_per_benchmark_next_to_the_json(tmp_path: Path) -> None:
    target = tmp_path / "run.json"
    completed = run_bench("--quick", "--only", "downstream", "--json", str(target), "--plot")
    assert completed.returncode == 0, completed.stderr[-3000:]
    chart = tmp_path / "downstream.png"
    assert chart.read_bytes().startswith(b"\x89PNG")
    rows = json.loads(target.read_text(encoding="utf-8"))["benchmarks"][0]["rows"]
    assert all(row["round_ratios"] for row in rows if row["role"] == "peer")
