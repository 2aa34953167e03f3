"""`identity-web call NAME`: call a configured downstream API as the application."""

from __future__ import annotations

import argparse
import json
from typing import Any

from identity_web._factory import TokenAcquirerFactory
from identity_web.cli import EXIT_FAILURE, EXIT_OK, guarded
from identity_web.downstream import DownstreamResponse


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "call",
        help="call a configured downstream API as the application",
        description="Load the settings as TokenAcquirerFactory does, call downstream API NAME "
        "as DownstreamApi.call does (app tokens: RequestAppToken true, or a managed identity), "
        "print the status and the body. Exit 1 for a non-2xx answer, 2 for bad settings.",
    )
    parser.add_argument("name", metavar="NAME", help="the downstream API section, e.g. MyApi")
    parser.add_argument("--config-dir", default=None, metavar="DIR", help="default: current")
    parser.add_argument("--relative-path", default=None, metavar="P", help="override RelativePath")
    parser.add_argument("--method", default=None, metavar="M", help="override HttpMethod")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    return guarded(args.json, lambda: _call(args))


def _call(args: argparse.Namespace) -> int:
    # The section decides the kind of call, as DownstreamApi.call does: no override turns a
    # configured RequestAppToken into another kind of token.
    overrides: dict[str, Any] = {}
    if args.relative_path is not None:
        overrides["RelativePath"] = args.relative_path
    if args.method is not None:
        overrides["HttpMethod"] = args.method
    factory = TokenAcquirerFactory.from_config_dir(args.config_dir)
    factory.add_downstream_api(args.name)
    with factory.build() as services:
        response = services.downstream_api.call(args.name, overrides=overrides or None)
    if args.json:
        print(json.dumps(response_json(response)))
    else:
        _print_text(response)
    return EXIT_OK if response.is_success else EXIT_FAILURE


def response_json(response: DownstreamResponse) -> dict[str, Any]:
    """The contract's `{"status", "token_type", "binding_thumbprint", "body"}`."""
    binding = response.binding_certificate
    return {
        "status": response.status,
        "token_type": response.token_type,
        "binding_thumbprint": binding.x5t_s256 if binding is not None else None,
        "body": body_value(response),
    }


def body_value(response: DownstreamResponse) -> Any:
    """Parsed JSON when the body is JSON, else its text."""
    media = response.content_type
    if response.body and (media == "application/json" or media.endswith("+json")):
        try:
            return response.json()
        except ValueError:
            pass
    return response.text


def _print_text(response: DownstreamResponse) -> None:
    binding = response.binding_certificate
    auth = response.token_type or "anonymous"
    if binding is not None:
        auth += f", bound to x5t#S256 {binding.x5t_s256}"
    print(f"HTTP {response.status} ({auth})")
    body = body_value(response)
    print(json.dumps(body, indent=2) if not isinstance(body, str) else body)
