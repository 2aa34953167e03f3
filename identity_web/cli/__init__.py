"""The `identity-web` command line. Each subcommand lives in its own module with a `register`.

Exit codes: 0 success; 1 runtime failure; 2 bad usage or bad configuration. Expected failures
print a message, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from identity_web._errors import ConfigurationError, IdentityWebError, InvalidRequestError

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2

# Subcommand modules, in the order `--help` lists them. Each defines
# `register(subparsers) -> None` and sets `func(args) -> int` on its parser.
_SUBCOMMANDS = ("_demo", "_emulator", "_call", "_token", "_config", "_probe")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="identity-web",
        description="Configuration-driven Entra ID tokens and downstream calls, with mTLS PoP.",
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv)")
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _SUBCOMMANDS:
        importlib.import_module(f"identity_web.cli.{name}").register(subparsers)
    _accept_verbose_everywhere(parser)
    return parser


class _VersionAction(argparse.Action):
    """`--version`: the installed distribution's version, read only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any) -> None:
        from identity_web._version import __version__  # noqa: PLC0415 - only when asked

        print(f"identity-web {__version__}")
        parser.exit()


def _accept_verbose_everywhere(parser: argparse.ArgumentParser) -> None:
    """Let `-v` also follow a subcommand (`identity-web config validate -v`)."""
    # argparse exposes its subparsers only through these private names.
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                subparser.add_argument(
                    "-v",
                    "--verbose",
                    action="count",
                    default=argparse.SUPPRESS,
                    help="more logging (-vv)",
                )
                _accept_verbose_everywhere(subparser)


_LOG_HANDLER = "identity-web-cli"


def _configure_logging(verbosity: int) -> None:
    """`-v`: INFO, `-vv`: DEBUG, to stderr. A second call replaces the first one's handler."""
    if verbosity <= 0:
        return
    level = logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_LOG_HANDLER)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    package_logger = logging.getLogger("identity_web")
    for old in [h for h in package_logger.handlers if h.get_name() == _LOG_HANDLER]:
        package_logger.removeHandler(old)
    package_logger.addHandler(handler)
    package_logger.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return guarded(False, lambda: func(args))
    except KeyboardInterrupt:
        return EXIT_FAILURE
    except BrokenPipeError:
        # The reader went away (`identity-web config schema | head`): stop quietly, and keep the
        # interpreter's final flush of stdout from raising again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE


def guarded(as_json: bool, command: Callable[[], int]) -> int:
    """Run a command; expected failures become a message (JSON with --json) and an exit code:
    2 for bad configuration (settings, credentials as configured) or a request that cannot be
    made, 1 for any other failure."""
    try:
        return command()
    except IdentityWebError as error:
        return _report(as_json, error, exit_code(error))


def exit_code(error: BaseException) -> int:
    """CONTRACTS.md: 2 when the configuration must change, 1 for a runtime failure."""
    return EXIT_USAGE if _is_configuration(error) else EXIT_FAILURE


def _is_configuration(error: BaseException) -> bool:
    """Settings problems, requests that cannot be made, and credentials that cannot load as
    configured (missing key, missing file, wrong password, unsupported SourceType …). A
    managed identity that cannot get its assertion, or an identity provider's refusal, is a
    runtime failure."""
    # Imported here: the credential layer is not needed to print --help.
    from identity_web.credentials._errors import (  # noqa: PLC0415
        CredentialLoadError,
        ManagedIdentityAssertionError,
        NoCredentialLoadedError,
    )

    if isinstance(error, ConfigurationError | InvalidRequestError):
        return True
    if isinstance(error, CredentialLoadError):
        return not isinstance(error, ManagedIdentityAssertionError)
    if isinstance(error, NoCredentialLoadedError):
        cause = error.__cause__
        if cause is None:
            return True  # no entry, or every entry skipped
        if isinstance(cause, BaseExceptionGroup):
            return all(_is_configuration(inner) for inner in cause.exceptions)
        return _is_configuration(cause)
    return False


def _report(as_json: bool, error: IdentityWebError, code: int) -> int:
    if as_json:
        print(json.dumps({"error": type(error).__name__, "message": str(error)}))
    else:
        print(f"identity-web: {error}", file=sys.stderr)
    return code
