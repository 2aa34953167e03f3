"""`identity-web probe-mi [--json] [--config-dir DIR]`: which managed identity source this
process would use.

Reports the source chosen from the environment (and the variables that chose it), whether
IMDS v1 and v2 answer, and the key and attestation providers (`AzureAd.ManagedIdentity` in the
settings of DIR, default the current directory, else the `IDENTITY_WEB_MI_*` variables). A
probe is the normal GET *without* `Metadata: true`: IMDS answers it with 400, so 400 means
"present"; anything else (or no answer within `--timeout`) means absent. No token is acquired.
Exit 0 when a source is usable, 1 when none is.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from identity_web._errors import ConfigurationError, IdentityWebError
from identity_web.cli import EXIT_FAILURE, EXIT_OK
from identity_web.managed_identity import ManagedIdentityClient
from identity_web.protocol._http import HttpRequest, HttpResponse
from identity_web.protocol.entra import REGION_AUTO_DETECT, resolve_region
from identity_web.protocol.imds import imds_base, imds_probe_request
from identity_web.protocol.imds_v2 import platform_metadata_probe_request
from identity_web.protocol.mi_sources import (
    ARC_AGENT_PATH_LINUX,
    DetectedSource,
    ManagedIdentitySource,
    detect_source,
)
from identity_web.settings import ManagedIdentityProviderOptions, load_settings
from identity_web.transport import ConnectTo, HttpTransport

DEFAULT_TIMEOUT = 1.0
MAX_TIMEOUT = 60.0

SECRET_VARIABLES = frozenset({"IDENTITY_HEADER", "MSI_SECRET"})
WORKLOAD_IDENTITY_VARIABLES = (
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
    "AZURE_TENANT_ID",
    "AZURE_AUTHORITY_HOST",
)


@dataclass(frozen=True, slots=True)
class EndpointProbe:
    available: bool
    status: int | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ProbeReport:
    source: str
    reason: str
    endpoint: str
    variables: dict[str, str]
    imds_endpoint: str
    imds_v1: EndpointProbe
    imds_v2: EndpointProbe
    workload_identity: dict[str, str]
    region: str | None = None
    key_provider: str = "software-rsa"
    attestation: str = "none"

    @property
    def bound_token_needs(self) -> str:
        """What an mTLS PoP token for managed identity needs on this host, in one sentence."""
        if self.source != ManagedIdentitySource.IMDS.value:
            return f"not available: {self.source} has no IMDS v2; use ProtocolScheme Bearer"
        if not self.imds_v2.available:
            return "not available: IMDS v2 does not answer here; use ProtocolScheme Bearer"
        if self.attestation == "none":
            return (
                "IMDS v2 answers; a host that requires attestation refuses issuecredential "
                "without a provider (AzureAd.ManagedIdentity.Attestation, or "
                "IDENTITY_WEB_MI_ATTESTATION)"
            )
        return f"IMDS v2 answers; keys are attested ({self.attestation})"

    @property
    def available(self) -> bool:
        if self.source != ManagedIdentitySource.IMDS.value:
            return True
        return self.imds_v1.available or self.imds_v2.available

    def to_json(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "available": self.available,
            "bound_token_needs": self.bound_token_needs,
        }


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "probe-mi",
        help="report the managed identity source and whether IMDS v1/v2 answer",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--config-dir",
        default=None,
        metavar="DIR",
        help="settings whose AzureAd.ManagedIdentity names the providers (default: current)",
    )
    parser.add_argument(
        "--timeout",
        type=timeout_seconds,
        default=DEFAULT_TIMEOUT,
        metavar="SECONDS",
        help=f"per-probe timeout, more than 0 and at most {MAX_TIMEOUT:g} "
        f"(default {DEFAULT_TIMEOUT:g})",
    )
    parser.set_defaults(func=_run)


def timeout_seconds(text: str) -> float:
    """`--timeout`: a finite number of seconds in (0, MAX_TIMEOUT]; argparse reports the rest
    as a usage error (exit 2), never a traceback."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or not 0 < value <= MAX_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"must be more than 0 and at most {MAX_TIMEOUT:g} seconds, found {text!r}"
        )
    return value


def _shown(environ: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    return {name: "***" if name in SECRET_VARIABLES else environ[name] for name in names}


def _probe(transport: HttpTransport, request: HttpRequest) -> EndpointProbe:
    try:
        answer: HttpResponse = transport.send(request)
    except IdentityWebError as error:
        return EndpointProbe(False, None, str(error))
    return EndpointProbe(answer.status == 400, answer.status)


def probe(
    environ: Mapping[str, str],
    transport: HttpTransport,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    arc_agent_path: str = ARC_AGENT_PATH_LINUX,
    options: ManagedIdentityProviderOptions | ConfigurationError | None = None,
) -> ProbeReport:
    """Detect the source and probe IMDS v1 and v2 (no token is requested). `options`: the
    settings' `AzureAd.ManagedIdentity` (or why they could not be read)."""
    detected: DetectedSource = detect_source(
        environ, arc_agent_installed=Path(arc_agent_path).exists()
    )
    base = imds_base(environ)
    present = tuple(name for name in WORKLOAD_IDENTITY_VARIABLES if environ.get(name))
    return ProbeReport(
        source=detected.source.value,
        reason=detected.reason,
        endpoint=detected.endpoint,
        variables=_shown(environ, detected.variables),
        imds_endpoint=base,
        imds_v1=_probe(transport, imds_probe_request(base, timeout)),
        imds_v2=_probe(transport, platform_metadata_probe_request(base, timeout)),
        workload_identity=_shown(environ, present),
        region=resolve_region(REGION_AUTO_DETECT, environ),
        **_providers(environ, options),
    )


def _providers(
    environ: Mapping[str, str], options: ManagedIdentityProviderOptions | ConfigurationError | None
) -> dict[str, str]:
    """The key kind and attestation mode the settings and the environment select (an unknown
    name, or settings that cannot be read, say so)."""
    try:
        if isinstance(options, ConfigurationError):
            raise options
        client = ManagedIdentityClient(environ=environ, options=options)
    except ConfigurationError as error:
        return {"key_provider": "invalid", "attestation": f"invalid ({error.problems[0]})"}
    return client.describe_providers()


def configured_providers(
    config_dir: str | None, environ: Mapping[str, str]
) -> ManagedIdentityProviderOptions | ConfigurationError:
    """`AzureAd.ManagedIdentity` of the settings in `config_dir`, or why they cannot be read."""
    try:
        loaded = load_settings(config_dir, environ=environ)
        return loaded.settings.azure_ad.managed_identity
    except ConfigurationError as error:
        return error


def _describe(result: EndpointProbe) -> str:
    if result.available:
        return "answers (HTTP 400 to a probe without the Metadata header)"
    if result.status is not None:
        return f"absent (HTTP {result.status})"
    return f"absent ({result.error})"


def render_text(report: ProbeReport) -> str:
    lines = [
        f"Managed identity source: {report.source}",
        f"  because:  {report.reason}",
        f"  endpoint: {report.endpoint}",
    ]
    lines += [f"  {name}={value}" for name, value in report.variables.items()]
    lines += [
        f"IMDS at {report.imds_endpoint}:",
        f"  v1 (Bearer):     {_describe(report.imds_v1)}",
        f"  v2 (mTLS PoP):   {_describe(report.imds_v2)}",
        f"Region (REGION_NAME, MSAL_FORCE_REGION): {report.region or 'none: the global host'}",
        f"Key provider: {report.key_provider}; attestation: {report.attestation}",
        f"mTLS PoP for managed identity: {report.bound_token_needs}",
    ]
    if report.workload_identity:
        lines.append("AKS workload identity variables (use SourceType SignedAssertionFilePath):")
        lines += [f"  {name}={value}" for name, value in report.workload_identity.items()]
    lines.append("Usable: yes" if report.available else "Usable: no managed identity answers here")
    return "\n".join(lines)


def _run(args: argparse.Namespace) -> int:
    with HttpTransport(connect_to=ConnectTo.from_environ(os.environ)) as transport:
        options = configured_providers(args.config_dir, os.environ)
        report = probe(os.environ, transport, timeout=args.timeout, options=options)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(render_text(report))
    return EXIT_OK if report.available else EXIT_FAILURE
