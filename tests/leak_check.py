"""A `ResourceWarning` fails the test run: an unclosed socket, file, event loop or subprocess.

`-W error::ResourceWarning` is not usable on CPython 3.11: a warning turned into an exception
inside a destructor that the garbage collector runs in the middle of pytest's assertion
rewriting comes out as `SystemError: AST constructor recursion depth mismatch`. So the warnings
are recorded instead of raised (nothing is thrown where the collector happens to run) and
checked afterwards:

* `fail_on_resource_warning` (autouse, every test): records every `ResourceWarning` while the
  test and its function fixtures run, and fails the test at teardown, naming each one;
* `fail_on_resource_warning_in_module` (autouse, every module): collects the garbage after the
  module's last test, so what its tests left in reference cycles is found in that module (a
  full collection after every test would cost ~90 ms each);
* `pytest_sessionfinish`: collects the garbage left at the end and fails the run on any
  `ResourceWarning` it raises (a leak no test's teardown saw).

With `LEAK_CHECK_TRACE=12` (frames; this process only, unlike `PYTHONTRACEMALLOC`) each report
also says where the object was made. A test or module marked `known_leak(reason)` has its leaks
reported as a warning instead (docs/reliability.md lists them). Other warnings recorded by the
fixture are warned again, so pytest still reports them. `tests/conftest.py` takes all of this
from here; `tests/reliability/test_resource_warnings.py` proves the check fails a test that
leaks, in a pytest run of its own (`-p leak_check`).
"""

from __future__ import annotations

import gc
import os
import tracemalloc
import warnings
from collections.abc import Iterator

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "known_leak(reason): a leak not fixed yet; reported, does not fail the test"
    )
    frames = os.environ.get("LEAK_CHECK_TRACE", "")
    if frames.isdigit() and not tracemalloc.is_tracing():
        tracemalloc.start(int(frames))


@pytest.fixture(autouse=True)
def fail_on_resource_warning(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the test when something it (or its fixtures) opened was left for the collector.

    A test marked `known_leak(reason)` collects its garbage at teardown (so what it left is
    found now, not in a later test) and its leaks are reported as a warning instead."""
    known = request.node.get_closest_marker("known_leak")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        yield
        if known is not None:
            gc.collect()
    leaks = _resource_warnings(caught)
    if leaks and known is not None:
        warnings.warn(f"known leak ({known.args[0]}): {leaks}", UserWarning, stacklevel=1)
    elif leaks:
        pytest.fail(f"ResourceWarning (left unclosed): {leaks}", pytrace=False)


@pytest.fixture(autouse=True, scope="module")
def fail_on_resource_warning_in_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """After the last test of a module, collect its garbage: what the module left in reference
    cycles is found there (an error at that test's teardown), not in some later module."""
    yield
    leaks = _collected()
    known = request.node.get_closest_marker("known_leak")
    if leaks and known is not None:
        warnings.warn(f"known leak ({known.args[0]}): {leaks}", UserWarning, stacklevel=1)
    elif leaks:
        pytest.fail(f"ResourceWarning (left unclosed by this module): {leaks}", pytrace=False)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    leaks = _collected()
    if leaks:
        print(f"\nResourceWarning at the end of the run (left unclosed): {leaks}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _collected() -> str:
    """The ResourceWarnings a full garbage collection raises now, as text."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        gc.collect()
    return _resource_warnings(caught)


def _origin(warning: warnings.WarningMessage) -> str:
    """Where the leaked object was made, when `PYTHONTRACEMALLOC=N` traces allocations."""
    traceback = tracemalloc.get_object_traceback(warning.source) if warning.source else None
    if traceback is None:
        return ""
    frames = " <- ".join(f"{frame.filename}:{frame.lineno}" for frame in reversed(traceback))
    return f" (allocated at {frames})"


def _resource_warnings(caught: list[warnings.WarningMessage]) -> str:
    """The ResourceWarnings among `caught`, as text; the other warnings are warned again."""
    leaks: list[str] = []
    for warning in caught:
        if issubclass(warning.category, ResourceWarning):
            leaks.append(
                f"{warning.filename}:{warning.lineno}: {warning.message}{_origin(warning)}"
            )
        else:
            warnings.warn_explicit(
                warning.message,
                warning.category,
                warning.filename,
                warning.lineno,
                source=warning.source,
            )
    return "; ".join(leaks)
