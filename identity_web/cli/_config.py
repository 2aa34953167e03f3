"""`identity-web config validate` and `identity-web config schema`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from identity_web._errors import ConfigurationError
from identity_web.cli import EXIT_OK, EXIT_USAGE
from identity_web.settings import LoadedSettings, check_build, load_settings
from identity_web.settings._display import effective_settings, leaves, settings_sources
from identity_web.settings._schema import schema_text


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="validate the settings or print their schema")
    actions = parser.add_subparsers(dest="config_command", metavar="ACTION")
    parser.set_defaults(func=lambda _args: _usage(parser))

    validate = actions.add_parser(
        "validate",
        help="load and validate the settings; show effective values and sources",
        description="Load the settings and run every check that building the services runs "
        "(the same function): exit 2 for anything that would fail before the network. Every "
        "section that looks like a downstream API is checked, or only those given with --api.",
    )
    validate.add_argument("--config-dir", default=None, metavar="DIR", help="default: current")
    validate.add_argument(
        "--api",
        action="append",
        default=None,
        metavar="NAME",
        help="check only this downstream API section, as add_downstream_api(NAME) (repeatable)",
    )
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(func=_validate)

    schema = actions.add_parser("schema", help="print the JSON Schema of appsettings files")
    schema.set_defaults(func=_schema)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return EXIT_USAGE


def _schema(_args: argparse.Namespace) -> int:
    sys.stdout.write(schema_text())
    return EXIT_OK


def load_for_build(config_dir: str | None, apis: list[str] | None) -> LoadedSettings:
    """Load, then run the build-time checks on `apis` (default: every downstream section)."""
    loaded = load_settings(config_dir)
    names = apis if apis is not None else loaded.settings.downstream_api_names()
    check_build(loaded.settings, names)
    return loaded


def _validate(args: argparse.Namespace) -> int:
    try:
        loaded = load_for_build(args.config_dir, args.api)
    except ConfigurationError as error:
        if args.json:
            errors = [{"path": p.path, "message": p.message} for p in error.problems]
            print(json.dumps({"valid": False, "errors": errors}, indent=2))
        else:
            print(f"identity-web: {error}", file=sys.stderr)
        return EXIT_USAGE
    settings = effective_settings(loaded.settings)
    sources = settings_sources(loaded, settings)
    if args.json:
        print(json.dumps({"valid": True, "settings": settings, "sources": sources}, indent=2))
        return EXIT_OK
    print(f"Configuration is valid ({loaded.config_dir}).")
    print(f"Files: {', '.join(p.name for p in loaded.files) or 'none'}")
    if loaded.environment:
        print(f"Environment: {loaded.environment}")
    width = max((len(path) for path in sources), default=0)
    for path, value in leaves(settings):
        print(f"  {path:<{width}}  {json.dumps(value)}  [{sources.get(path, 'defaults')}]")
    return EXIT_OK
