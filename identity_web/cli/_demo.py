"""`identity-web demo`: run every scenario against the in-process emulator, as a user would.

Each scenario writes an `appsettings.json` with Identity.Web's keys into its own directory,
then goes through the public API only: `TokenAcquirerFactory` → `add_downstream_api("MyApi")`
→ `build()` → `DownstreamApi.call("MyApi")` against the emulator's `/whoami`, which answers
what the resource verified (claims, `cnf`, the TLS client certificate's thumbprint).

Scenarios live in `SCENARIOS`: a name, the credential source, the protocol scheme and the
settings it writes. By default every scenario runs.

The settings name the production hosts (`Instance: https://login.microsoftonline.com/`, IMDS at
`169.254.169.254`), as a user on Azure writes them; the resolver seam
(`IDENTITY_WEB_CONNECT_TO`, from the emulator's env) connects those names to the emulator, with
TLS verified against its CA. The emulator requires attested IMDS v2 keys, and the managed
identity scenarios attest with the software provider (`IDENTITY_WEB_MI_ATTESTATION=software`).
Each outcome names the URL the final token came from and, for managed identity, the IMDS
endpoint, as the emulator's request log saw them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from identity_web._errors import IdentityWebError
from identity_web._factory import TokenAcquirerFactory
from identity_web.cli import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, guarded
from identity_web.downstream import DownstreamResponse
from identity_web.emulator import Emulator, EmulatorConfig, EmulatorManifest
from identity_web.managed_identity._providers import ATTESTATION_VARIABLE
from identity_web.protocol._tokens import TokenType

API = "MyApi"
MANAGED_IDENTITY = "ManagedIdentity"
FIC_SOURCE = "SignedAssertionFromManagedIdentity"
BEARER = "Bearer"
MTLS_POP = "MTLS_POP"
JSON_KEYS = (
    "scenario",
    "credential_source",
    "protocol_scheme",
    "token_type",
    "binding_thumbprint",
    "cnf_x5t_s256",
    "status",
    "ok",
    "token_endpoint",
    "imds_endpoint",
)
#: Where a user on Azure points `AzureAd.Instance`; the resolver seam routes it to the emulator.
PRODUCTION_INSTANCE = "https://login.microsoftonline.com/"
#: The emulator's log names of the endpoints that hand out the final token.
TOKEN_ENDPOINTS = ("entra.token", "entra.mtls_token", "imds.token")

Settings = dict[str, Any]


@dataclasses.dataclass(frozen=True, slots=True)
class Scenario:
    """One way to configure the same call; `settings` writes appsettings.json's content."""

    name: str
    credential_source: str
    protocol_scheme: str
    settings: Callable[[EmulatorManifest, str], Settings]

    @property
    def uses_imds(self) -> bool:
        """Managed identity, directly or as FIC's leg 1: the outcome names the IMDS endpoint."""
        return self.credential_source in (MANAGED_IDENTITY, FIC_SOURCE)


@dataclasses.dataclass(frozen=True, slots=True)
class Outcome:
    scenario: Scenario
    status: int | None = None
    token_type: str | None = None
    binding_thumbprint: str | None = None
    cnf_x5t_s256: str | None = None
    client_cert_x5t_s256: str | None = None
    token_endpoint: str | None = None
    imds_endpoint: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return not self.reason

    def as_json(self) -> dict[str, Any]:
        values = {
            "scenario": self.scenario.name,
            "credential_source": self.scenario.credential_source,
            "protocol_scheme": self.scenario.protocol_scheme,
            "token_type": self.token_type,
            "binding_thumbprint": self.binding_thumbprint,
            "cnf_x5t_s256": self.cnf_x5t_s256,
            "status": self.status,
            "ok": self.ok,
            "token_endpoint": self.token_endpoint,
            "imds_endpoint": self.imds_endpoint,
        }
        keys = JSON_KEYS if self.scenario.uses_imds else JSON_KEYS[:-1]
        return {key: values[key] for key in keys}


# -- settings, written the way the Identity.Web daemon samples write them ----------------------


def _downstream(manifest: EmulatorManifest, scheme: str, **extra: Any) -> Settings:
    section: Settings = {
        "BaseUrl": manifest.resource.base_url,
        "RelativePath": "whoami",
        "Scopes": [manifest.resource.scope],
        "RequestAppToken": True,
    }
    if scheme != BEARER:
        section["ProtocolScheme"] = scheme
    return {**section, **extra}


def _certificate_settings(manifest: EmulatorManifest, scheme: str) -> Settings:
    app = next(app for app in manifest.apps if app.certificate_pfx_path)
    credential: Settings = {"SourceType": "Path", "CertificateDiskPath": app.certificate_pfx_path}
    if app.certificate_pfx_password:
        credential["CertificatePassword"] = app.certificate_pfx_password
    return _app_settings(manifest, app.client_id, credential, scheme)


def _app_settings(
    manifest: EmulatorManifest, client_id: str, credential: Settings, scheme: str
) -> Settings:
    """An `AzureAd` section for the emulator's tenant with one credential, and the API."""
    return {
        "AzureAd": {
            "Instance": PRODUCTION_INSTANCE,
            "TenantId": manifest.tenant_id,
            "ClientId": client_id,
            "ClientCredentials": [credential],
        },
        API: _downstream(manifest, scheme),
    }


def _user_assigned(manifest: EmulatorManifest) -> str | None:
    found = (mi.client_id for mi in manifest.managed_identities if mi.kind == "UserAssigned")
    return next(found, None)


def _managed_identity_settings(manifest: EmulatorManifest, scheme: str) -> Settings:
    client_id = _user_assigned(manifest)
    identity = {"UserAssignedClientId": client_id} if client_id else {}
    return {
        "AzureAd": {"ClientCapabilities": ["cp1"]},
        API: _downstream(manifest, scheme, AcquireTokenOptions={"ManagedIdentity": identity}),
    }


def _fic_settings(manifest: EmulatorManifest, scheme: str) -> Settings:
    app = next(app for app in manifest.apps if app.federated_managed_identities)
    credential: Settings = {
        "SourceType": "SignedAssertionFromManagedIdentity",
        "ManagedIdentityClientId": app.federated_managed_identities[0],
    }
    return _app_settings(manifest, app.client_id, credential, scheme)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("cert-bearer", "Path", BEARER, _certificate_settings),
        Scenario("cert-mtls", "Path", MTLS_POP, _certificate_settings),
        Scenario("msi-bearer", MANAGED_IDENTITY, BEARER, _managed_identity_settings),
        Scenario("msi-mtls", MANAGED_IDENTITY, MTLS_POP, _managed_identity_settings),
        Scenario("fic-bearer", FIC_SOURCE, BEARER, _fic_settings),
        Scenario("fic-mtls", FIC_SOURCE, MTLS_POP, _fic_settings),
    )
}


# -- running -----------------------------------------------------------------------------------


def run_scenario(
    scenario: Scenario, emulator: Emulator, work_dir: Path, environ: Mapping[str, str]
) -> Outcome:
    """Write the scenario's settings, call the resource through the public API, judge it."""
    manifest = emulator.manifest
    emulator.clear_requests()
    config_dir = work_dir / scenario.name
    config_dir.mkdir(parents=True, exist_ok=True)
    settings = scenario.settings(manifest, scenario.protocol_scheme)
    (config_dir / "appsettings.json").write_text(json.dumps(settings, indent=2), "utf-8")
    try:
        factory = TokenAcquirerFactory.from_config_dir(config_dir, environ=environ)
        factory.add_downstream_api(API)
        with factory.build() as services:
            response = services.downstream_api.call(API)
    except IdentityWebError as error:
        return Outcome(scenario, reason=f"{type(error).__name__}: {error}")
    seen = _whoami(response)
    binding = response.binding_certificate
    outcome = Outcome(
        scenario,
        status=response.status,
        token_type=response.token_type,
        binding_thumbprint=binding.x5t_s256 if binding is not None else None,
        cnf_x5t_s256=seen.get("cnf_x5t_s256"),
        client_cert_x5t_s256=seen.get("client_cert_x5t_s256"),
    )
    token_endpoint, imds_endpoint = _endpoints(emulator.requests())
    outcome = dataclasses.replace(
        outcome, token_endpoint=token_endpoint, imds_endpoint=imds_endpoint
    )
    return _judged(outcome)


def _endpoints(log: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """The URL of the last token request and of the IMDS host, by the names the client used."""
    tokens = [entry for entry in log if entry["endpoint"] in TOKEN_ENDPOINTS]
    imds = [entry for entry in log if str(entry["endpoint"]).startswith("imds.")]
    return (
        _url(tokens[-1]) if tokens else None,
        _url(imds[0], path="") if imds else None,
    )


def _url(entry: Mapping[str, Any], *, path: str | None = None) -> str:
    scheme = "http" if str(entry["endpoint"]).startswith("imds.") else "https"
    headers = {name.lower(): value for name, value in entry["headers"].items()}
    return f"{scheme}://{headers.get('host', '')}{entry['path'] if path is None else path}"


def demo_environ(manifest: EmulatorManifest) -> dict[str, str]:
    """The emulator's env, minus the IMDS override (IMDS is reached as 169.254.169.254), with
    the software attestation provider that the emulator's authority accepts."""
    environ = manifest.env()
    environ.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST", None)
    environ[ATTESTATION_VARIABLE] = "software"
    return environ


def _whoami(response: DownstreamResponse) -> dict[str, Any]:
    """What /whoami reported, or {} when the body is not a JSON object."""
    try:
        seen = response.json() if response.content_type == "application/json" else {}
    except ValueError:
        return {}
    return seen if isinstance(seen, dict) else {}


def _judged(outcome: Outcome) -> Outcome:
    """ok: a 2xx and, for MTLS_POP, cnf == binding certificate == TLS client certificate."""
    reason = ""
    if outcome.status is None or not 200 <= outcome.status < 300:
        reason = f"the resource answered HTTP {outcome.status}"
    elif outcome.scenario.protocol_scheme == MTLS_POP:
        if outcome.token_type != TokenType.MTLS_POP:
            reason = f"expected an mtls_pop token, got {outcome.token_type}"
        elif not outcome.cnf_x5t_s256 or not (
            outcome.cnf_x5t_s256 == outcome.binding_thumbprint == outcome.client_cert_x5t_s256
        ):
            reason = "the resource did not verify that the client certificate matches cnf"
    elif outcome.cnf_x5t_s256 is not None:
        reason = "a Bearer scenario got a certificate-bound token"
    return dataclasses.replace(outcome, reason=reason)


def selected(names: Sequence[str] | None) -> list[Scenario]:
    """The named scenarios (each once, in order), or every scenario."""
    if names:
        return [SCENARIOS[name] for name in dict.fromkeys(names)]
    return list(SCENARIOS.values())


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run the scenarios against the in-process emulator",
        description="Start the emulator, then run each scenario through TokenAcquirerFactory "
        f"and DownstreamApi.call. Scenarios: {', '.join(SCENARIOS)}. Default: every scenario. "
        "Exit 0 iff every scenario is ok.",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per scenario")
    parser.add_argument(
        "--scenario", action="append", metavar="NAME", help="run only this one (repeatable)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    unknown = [name for name in args.scenario or () if name not in SCENARIOS]
    if unknown:
        print(
            f"identity-web demo: unknown scenario {', '.join(unknown)}; "
            f"known: {', '.join(SCENARIOS)}",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return guarded(args.json, lambda: _demo(args.scenario, as_json=args.json))


def _demo(names: Sequence[str] | None, *, as_json: bool) -> int:
    config = EmulatorConfig(attestation_mode="required")  # IMDS v2 certificates need attestation
    with (
        Emulator(config) as emulator,
        tempfile.TemporaryDirectory(prefix="identity-web-demo-") as tmp,
    ):
        environ = demo_environ(emulator.manifest)
        outcomes = []
        for scenario in selected(names):
            outcome = run_scenario(scenario, emulator, Path(tmp), environ)
            outcomes.append(outcome)
            if as_json:
                print(json.dumps(outcome.as_json()), flush=True)
    if not as_json:
        print(table(outcomes))
    for outcome in outcomes:
        if not outcome.ok:
            print(f"identity-web demo: {outcome.scenario.name}: {outcome.reason}", file=sys.stderr)
    return EXIT_OK if outcomes and all(o.ok for o in outcomes) else EXIT_FAILURE


def table(outcomes: Sequence[Outcome]) -> str:
    header = ("SCENARIO", "CREDENTIAL", "SCHEME", "TOKEN", "STATUS", "OK", "BINDING x5t#S256")
    rows = [header] + [
        (
            o.scenario.name,
            o.scenario.credential_source,
            o.scenario.protocol_scheme,
            o.token_type or "-",
            str(o.status) if o.status is not None else "-",
            "yes" if o.ok else "NO",
            o.binding_thumbprint or "-",
        )
        for o in outcomes
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )
