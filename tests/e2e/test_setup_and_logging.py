"""Issue 2 acceptance: packaging facts, the console script, the container's monopoly on
dependency-injector, the package logger's NullHandler and `-v`."""

from __future__ import annotations

import ast
import json
import logging
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import identity_web
from identity_web.settings._schema import schema_text

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "identity_web"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and entry points, fixed arguments
        args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_pyproject_declares_python_script_and_typing_marker() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["requires-python"] == ">=3.11"
    assert project["project"]["scripts"] == {"identity-web": "identity_web.cli:main"}
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["identity_web"]
    assert (PACKAGE / "py.typed").is_file()
    assert Path(identity_web.__file__).parent == PACKAGE  # the tests run this checkout


def test_console_script_runs_the_cli() -> None:
    script = Path(sys.executable).parent / "identity-web"
    assert script.is_file(), f"{script} missing: install the project (`./run test` does)"
    result = run(str(script), "config", "schema")
    assert result.returncode == 0, result.stderr
    assert result.stdout == schema_text()


def test_python_dash_m_without_a_command_is_usage() -> None:
    result = run(sys.executable, "-m", "identity_web")
    assert result.returncode == 2
    assert "usage: identity-web" in result.stderr
    assert "Traceback" not in result.stderr


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert ci[-1] == "./run test"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    first_block = readme.split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line]
    assert commands == ["./run demo", "./run test"]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_only_the_container_imports_dependency_injector() -> None:
    importers = sorted(
        str(path.relative_to(ROOT))
        for path in PACKAGE.rglob("*.py")
        if "dependency_injector" in _imports(path)
    )
    assert importers == ["identity_web/container.py"]


# ---- logging --------------------------------------------------------------------------------


def test_the_package_logger_has_a_null_handler() -> None:
    handlers = logging.getLogger("identity_web").handlers
    assert any(isinstance(handler, logging.NullHandler) for handler in handlers)


def test_an_unconfigured_application_sees_no_library_warnings() -> None:
    """Without the NullHandler, Python's last-resort handler would print this on stderr."""
    probe = (
        "import logging, identity_web; "
        "logging.getLogger('identity_web.settings').warning('library warning')"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0
    assert result.stderr == ""


def _validate(tmp_path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "appsettings.json").write_text(
        json.dumps({"AzureAd": {"ClientId": "c"}}), encoding="utf-8"
    )
    return run(sys.executable, "-m", "identity_web", *flags, "config", "validate", cwd=tmp_path)


def test_verbose_flags_wire_logging_to_stderr(tmp_path: Path) -> None:
    quiet = _validate(tmp_path)
    info = _validate(tmp_path, "-v")
    debug = _validate(tmp_path, "-vv")
    assert (quiet.returncode, info.returncode, debug.returncode) == (0, 0, 0)
    assert quiet.stderr == ""
    assert " DEBUG " not in info.stderr
    assert " DEBUG identity_web.settings._loader: Loaded settings from " in debug.stderr
    assert debug.stdout == quiet.stdout  # logs never mix into the command's output


def test_verbose_flag_may_follow_the_subcommand(tmp_path: Path) -> None:
    """`identity-web config validate -vv` logs like `identity-web -vv config validate`."""
    (tmp_path / "appsettings.json").write_text(
        json.dumps({"AzureAd": {"ClientId": "c"}}), encoding="utf-8"
    )
    after = run(sys.executable, "-m", "identity_web", "config", "validate", "-vv", cwd=tmp_path)
    assert after.returncode == 0
    assert " DEBUG identity_web.settings._loader: Loaded settings from " in after.stderr


def test_a_closed_output_pipe_ends_quietly(tmp_path: Path) -> None:
    """`identity-web config schema | head -1` must not end in a BrokenPipeError traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes anything
    try:
        done = subprocess.run(
            [sys.executable, "-m", "identity_web", "config", "schema"],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr
    assert done.returncode == 1
