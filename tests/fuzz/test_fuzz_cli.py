"""Fuzzing the command line's options, in-process through `identity_web.cli.main`: any argv for
any subcommand either parses, or ends in exit 2 with a usage message (`--help`, `--version`:
exit 0) — never a traceback, never another exception.

`main` runs a command once its arguments parse; the commands that would start the emulator,
probe IMDS or ask Entra ID for a token are not run here (their parsed arguments are checked
instead). What can run offline does: `config schema`, `config validate` in an empty directory,
and `demo` with an unknown scenario (refused before anything starts).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from fuzz_strategies import any_text
from hypothesis import example, given
from hypothesis import strategies as st

from identity_web.cli import build_parser, main
from identity_web.cli._demo import SCENARIOS

COMMANDS = (
    (), ("demo",), ("emulator",), ("call",), ("token",), ("config",), ("config", "validate"),
    ("config", "schema"), ("probe-mi",),
)  # fmt: skip
OPTIONS = (
    "--json", "--config-dir", "--scope", "--timeout", "--api", "--scenario", "--relative-path",
    "--method", "--show-token", "--manifest", "--env-file", "--config", "--host", "-v", "-vv",
    "--verbose", "--help", "-h", "--version", "--", "-", "--bogus", "-x", "--time", "--js",
)  # fmt: skip
VALUES = (
    "MyApi", "api://x/.default", "0", "-1", "nan", "inf", "1e400", "60", "0.5", "", " ",
    "cert-mtls", "msi-bearer", "no-such-scenario", "/", ".", "/nonexistent", "127.0.0.1", "::1",
    "GET", "validate", "schema", "demo", "-5", "--", "=",
)  # fmt: skip
_EMPTY = Path(tempfile.mkdtemp(prefix="identity-web-fuzz-cli-"))

words = st.sampled_from(OPTIONS) | st.sampled_from(VALUES) | any_text
joined = st.builds(lambda option, value: f"{option}={value}", st.sampled_from(OPTIONS), words)
argvs = st.builds(
    lambda command, rest: [*command, *rest],
    st.sampled_from(COMMANDS) | st.lists(any_text, max_size=2).map(tuple),
    st.lists(words | joined, max_size=6),
)


@contextlib.contextmanager
def _captured() -> Iterator[tuple[io.StringIO, io.StringIO]]:
    """stdout and stderr, and the package logger as it was (`-v` adds a handler to it)."""
    out, err = io.StringIO(), io.StringIO()
    package = logging.getLogger("identity_web")
    handlers, level = list(package.handlers), package.level
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        package.handlers[:] = handlers
        package.setLevel(level)


def _exit_code(run: Callable[[], int]) -> int:
    """What `run()` exits with: its return value, or the code of the `SystemExit` it raised."""
    try:
        code: object = run()
    except SystemExit as exit_:
        code = exit_.code
    assert isinstance(code, int), repr(code)
    return code


def _parsed(argv: list[str]) -> argparse.Namespace | int:
    with _captured() as (out, err):
        try:
            return build_parser().parse_args(argv)
        except SystemExit as exit_:
            code = exit_.code
    assert code in (0, 2), (argv, code)
    if code == 2:
        assert "usage:" in err.getvalue(), err.getvalue()
        assert "error:" in err.getvalue(), err.getvalue()
    else:
        assert out.getvalue(), "exit 0 without printing help or the version"
    assert isinstance(code, int)
    return code


def _runs_offline(args: argparse.Namespace) -> bool:
    if args.command == "config":
        return True
    return args.command == "demo" and any(s not in SCENARIOS for s in args.scenario or ())


@given(argvs)
@example(["probe-mi", "--timeout", "nan"])
@example(["config", "validate", "--api"])
@example(["demo", "--scenario", "nope"])
@example(["--verbose=3"])
@example(["token", "a", "b"])
@example(["\x00"])
def test_any_argv_parses_or_is_a_usage_error(argv: list[str]) -> None:
    parsed = _parsed(argv)
    if isinstance(parsed, int):  # refused by the parser: main refuses it the same way
        with _captured() as (_, err):
            assert _exit_code(lambda: main(argv)) == parsed
        assert "Traceback" not in err.getvalue()
        return
    assert callable(getattr(parsed, "func", None)) or parsed.command is None
    if parsed.command is None or _runs_offline(parsed):
        with _captured() as (_, err), contextlib.chdir(_EMPTY):
            code = _exit_code(lambda: main([*argv, *_empty_config_dir(parsed)]))
        assert code in (0, 2), (argv, code, err.getvalue())
        assert "Traceback" not in err.getvalue()


def _empty_config_dir(args: argparse.Namespace) -> list[str]:
    """`config validate` reads an empty directory whatever `--config-dir` the argv gave."""
    if getattr(args, "config_command", None) == "validate":
        return ["--config-dir", str(_EMPTY)]
    return []
