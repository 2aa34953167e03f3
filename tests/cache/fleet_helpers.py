"""A replica of a daemon as containers configure it (environment variables only), for the
fleet tests in this process and in the worker processes (`fleet_worker.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.settings import load_settings

API = "MyApi"
TOKEN_ENDPOINTS = ("entra.token", "entra.mtls_token")


def replica_variables(
    manifest: Mapping[str, Any], redis_url: str | None, scheme: str = "Bearer"
) -> dict[str, str]:
    """`manifest` is the emulator's manifest JSON (`EmulatorManifest.to_json()`)."""
    app = manifest["apps"][0]
    variables = {
        "AzureAd__Instance": manifest["instance"],
        "AzureAd__TenantId": manifest["tenant_id"],
        "AzureAd__ClientId": app["client_id"],
        "AzureAd__ClientCredentials__0__SourceType": "Path",
        "AzureAd__ClientCredentials__0__CertificateDiskPath": app["certificate_pfx_path"],
        "AzureAd__ClientCredentials__0__CertificatePassword": app["certificate_pfx_password"] or "",
        f"{API}__BaseUrl": manifest["resource"]["base_url"],
        f"{API}__RelativePath": "whoami",
        f"{API}__Scopes__0": manifest["resource"]["scope"],
        f"{API}__RequestAppToken": "true",
        f"{API}__ProtocolScheme": scheme,
    }
    if redis_url is not None:
        variables |= {
            "TokenCache__Type": "Redis",
            "TokenCache__ConnectionString": redis_url,
            "TokenCache__KeyPrefix": "fleet",
        }
    return variables


def replica(
    manifest: Mapping[str, Any],
    redis_url: str | None,
    scheme: str,
    directory: Path,
    *,
    environ: Mapping[str, str],
) -> ServiceProvider:
    """One built replica; `environ` holds what the emulator's env file says."""
    variables = replica_variables(manifest, redis_url, scheme)
    settings = load_settings(directory, environ=variables).settings
    factory = TokenAcquirerFactory(settings, environ=environ)
    factory.add_downstream_api(API)
    return factory.build()


def token_requests(requests: list[dict[str, Any]]) -> list[str]:
    """The token requests in an emulator request log."""
    return [e["endpoint"] for e in requests if e["endpoint"] in TOKEN_ENDPOINTS]
