"""`identity-web emulator`: run the emulator until SIGINT/SIGTERM (CONTRACTS.md)."""

from __future__ import annotations

import argparse
import ipaddress
import json
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from identity_web._errors import ConfigurationError
from identity_web.cli import EXIT_OK

if TYPE_CHECKING:
    from identity_web.emulator import EmulatorConfig

_LOOPBACK_NAMES = frozenset({"localhost"})


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "emulator",
        help="run the local Entra ID / IMDS / resource emulator",
        description=(
            "Run the emulator on ephemeral loopback ports until SIGINT/SIGTERM. Once every "
            "endpoint listens, the manifest and the env file are written atomically; they are "
            "removed on shutdown."
        ),
    )
    parser.add_argument(
        "--manifest", type=Path, metavar="PATH", help="where to write the manifest JSON"
    )
    parser.add_argument("--env-file", type=Path, metavar="PATH", help="where to write the env file")
    parser.add_argument("--config", type=Path, metavar="FILE", help="emulator settings (JSON)")
    parser.add_argument("--host", metavar="HOST", help="loopback address (default 127.0.0.1)")
    parser.set_defaults(func=run)


def _check_loopback(host: str) -> None:
    if host.lower() in _LOOPBACK_NAMES:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigurationError(
            f"--host {host!r}: the emulator only binds loopback addresses (127.0.0.1, ::1)"
        )


def _config(args: argparse.Namespace) -> EmulatorConfig:
    from identity_web.emulator import EmulatorConfig  # noqa: PLC0415 - keep CLI start-up fast

    overrides = {"host": args.host} if args.host else None
    if args.config is not None:
        config = EmulatorConfig.from_file(args.config, overrides)
    else:
        config = EmulatorConfig(host=args.host or "127.0.0.1")
    _check_loopback(config.host)
    return config


def run(args: argparse.Namespace) -> int:
    from identity_web.emulator import Emulator  # noqa: PLC0415 - keep CLI start-up fast

    config = _config(args)
    stop = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, request_stop) for s in (signal.SIGINT, signal.SIGTERM)}
    emulator = Emulator(config)
    try:
        manifest = emulator.start()
        emulator.write_files(args.manifest, args.env_file)
        if args.manifest is None:
            print(json.dumps(manifest.to_json(), indent=2), flush=True)
        print(f"identity-web emulator running at {manifest.instance}", file=sys.stderr, flush=True)
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK
