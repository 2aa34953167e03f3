"""Settings the way users write them, against the session emulator, and a builder for them."""

from __future__ import annotations

import copy
from typing import Any

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.emulator import EmulatorManifest
from identity_web.emulator._manifest import AppManifest
from identity_web.settings import IdentityWebSettings

API = "MyApi"


def certificate_config(
    manifest: EmulatorManifest, *, app: AppManifest | None = None, **api: Any
) -> dict[str, Any]:
    """An `AzureAd` section with the demo app's PFX (or `app`'s) and a `MyApi` section calling
    /whoami."""
    app = app or manifest.apps[0]
    return {
        "AzureAd": {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": app.client_id,
            "ClientCredentials": [
                {
                    "SourceType": "Path",
                    "CertificateDiskPath": app.certificate_pfx_path,
                    "CertificatePassword": app.certificate_pfx_password,
                }
            ],
        },
        API: {
            "BaseUrl": manifest.resource.base_url,
            "RelativePath": "whoami",
            "Scopes": [manifest.resource.scope],
            "RequestAppToken": True,
            **api,
        },
    }


def managed_identity_config(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    """No application credential; a `MyApi` section asking the system-assigned identity."""
    config = certificate_config(manifest, AcquireTokenOptions={"ManagedIdentity": {}}, **api)
    config["AzureAd"] = {}
    return config


def secret_config(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    """The same, with the app's client secret as its only credential."""
    config = certificate_config(manifest, **api)
    app = manifest.apps[0]
    config["AzureAd"]["ClientCredentials"] = [
        {"SourceType": "ClientSecret", "ClientSecret": app.client_secret}
    ]
    return config


def with_api(config: dict[str, Any], **api: Any) -> dict[str, Any]:
    """A deep copy of `config` with keys of the `MyApi` section replaced."""
    changed = copy.deepcopy(config)
    changed[API].update(api)
    return changed


def build(config: dict[str, Any], manifest: EmulatorManifest, *apis: str) -> ServiceProvider:
    """Factory → add_downstream_api → build, trusting the emulator through its env values."""
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=manifest.env())
    for name in apis or (API,):
        factory.add_downstream_api(name)
    return factory.build()


def token_requests(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Entries of the request log that went to a token endpoint (login or mtlsauth host)."""
    return [e for e in log if e["endpoint"] in ("entra.token", "entra.mtls_token")]
