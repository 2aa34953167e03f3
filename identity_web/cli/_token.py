"""`identity-web token (NAME | --scope S)`: acquire an app token and describe it.

The claims summary is read from the JWT payload WITHOUT verifying it — it describes what the
identity provider issued, it proves nothing. The token itself is printed only on request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from identity_web._factory import ServiceProvider, TokenAcquirerFactory
from identity_web._results import AcquireTokenResult
from identity_web.acquisition import prepare
from identity_web.cli import EXIT_OK, guarded
from identity_web.protocol.rfc7523 import unverified_claims

SUMMARY_CLAIMS = ("aud", "appid", "azp", "tid", "oid", "cnf")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "token",
        help="acquire the app token a downstream API (or a scope) would use, and describe it",
        description="Prints token type, expiry, source (cache or identity provider), binding "
        "thumbprint and a claims summary decoded without verification.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="a downstream API section")
    parser.add_argument("--scope", default=None, metavar="S", help="e.g. api://x/.default")
    parser.add_argument("--config-dir", default=None, metavar="DIR", help="default: current")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--show-token", action="store_true", help="also print the raw token")
    parser.set_defaults(func=run, token_parser=parser)


def run(args: argparse.Namespace) -> int:
    if (args.name is None) == (args.scope is None):
        args.token_parser.error("give either NAME or --scope S (exactly one)")
    return guarded(args.json, lambda: _token(args))


def _token(args: argparse.Namespace) -> int:
    factory = TokenAcquirerFactory.from_config_dir(args.config_dir)
    if args.name is not None:
        factory.add_downstream_api(args.name)
    with factory.build() as services:
        scope, result = _acquire(factory, services, args)
    report = describe(result, scope, show_token=args.show_token)
    print(json.dumps(report) if args.json else _text(report))
    return EXIT_OK


def _acquire(
    factory: TokenAcquirerFactory, services: ServiceProvider, args: argparse.Namespace
) -> tuple[str, AcquireTokenResult]:
    """The token NAME's settings would use (they must ask for an app token), or a Bearer one
    for --scope."""
    if args.name is None:
        return args.scope, services.token_acquirer.acquire_token_for_app(args.scope)
    options = factory.settings.downstream_api(args.name)
    scope, token_options, bound = prepare(options)
    return scope, services.token_acquirer.acquire_token_for_app(scope, token_options, bound=bound)


def describe(result: AcquireTokenResult, scope: str, *, show_token: bool) -> dict[str, Any]:
    binding = result.binding_certificate
    report: dict[str, Any] = {
        "scope": scope,
        "token_type": result.token_type,
        "expires_on": _iso(result.expires_on),
        "token_source": result.token_source.value,
        "binding_thumbprint": binding.x5t_s256 if binding is not None else None,
        "token_endpoint": result.token_endpoint or None,
        "claims": claims_summary(result.access_token),
    }
    if show_token:
        report["access_token"] = result.access_token
    return report


def claims_summary(token: str) -> dict[str, Any]:
    """aud, appid, azp, tid, oid and cnf of the token (absent claims omitted)."""
    claims = unverified_claims(token)
    return {name: claims[name] for name in SUMMARY_CLAIMS if name in claims}


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).isoformat(timespec="seconds")


def _text(report: Mapping[str, Any]) -> str:
    lines = [
        f"Token type:     {report['token_type']}",
        f"Scope:          {report['scope']}",
        f"Expires on:     {report['expires_on']}",
        f"Token source:   {report['token_source']}",
        f"Binding x5t#S256: {report['binding_thumbprint'] or '-'}",
        "Claims (decoded, not verified):",
    ]
    lines += [f"  {name}: {json.dumps(value)}" for name, value in report["claims"].items()]
    if "access_token" in report:
        lines.append(f"Access token:   {report['access_token']}")
    return "\n".join(lines)
