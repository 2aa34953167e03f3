"""The leak check of the test run (`tests/leak_check.py`) fails a test that leaves a socket for
the garbage collector, and passes one that closes it: each in a pytest run of its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parents[1]

CLOSES = """
import socket

def test_closes_its_socket():
    with socket.socket():
        pass
"""

DROPS = """
import socket

def test_drops_an_open_socket():
    socket.socket()  # never closed: freed at once, ResourceWarning in the test
"""

CYCLE = """
import socket

def test_leaves_an_open_socket_in_a_cycle():
    cycle = [socket.socket()]
    cycle.append(cycle)  # freed only by the collector: at the test's teardown or the run's end
"""


def _pytest(directory: Path, source: str) -> subprocess.CompletedProcess[str]:
    (directory / "test_case.py").write_text(source, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "leak_check", "-p", "no:cacheprovider", "-q"],
        cwd=directory,
        env={**os.environ, "PYTHONPATH": str(TESTS), "PYTHONWARNINGS": ""},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_test_that_closes_what_it_opens_passes(tmp_path: Path) -> None:
    run = _pytest(tmp_path, CLOSES)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ResourceWarning" not in run.stdout


@pytest.mark.parametrize("source", [DROPS, CYCLE], ids=["dropped", "in-a-cycle"])
def test_a_test_that_leaks_a_socket_fails_the_run(tmp_path: Path, source: str) -> None:
    run = _pytest(tmp_path, source)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "ResourceWarning" in run.stdout, run.stdout
    assert "left unclosed" in run.stdout
    assert "unclosed <socket.socket" in run.stdout
