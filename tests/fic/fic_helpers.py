"""Helpers of the FIC tests: fake leg-1 tokens, a scripted managed identity client, settings."""

from __future__ import annotations

import base64
import datetime
import json
from dataclasses import dataclass, field
from typing import Any

import testkit

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.emulator import EmulatorManifest
from identity_web.protocol import BindingCertificate, TokenResponse
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.protocol.steps import Step
from identity_web.settings import IdentityWebSettings

API = "MyApi"
EXCHANGE = "api://AzureADTokenExchange"
NOW = 1_800_000_000.0


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def fake_jwt(**claims: Any) -> str:
    """An unsigned compact JWT with these claims (the provider never verifies leg-1 tokens)."""
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT"}).encode())
    return f"{header}.{b64url(json.dumps(claims).encode())}.c2lnbmF0dXJl"


def make_certificate(days: float = 7.0, *, now: float = NOW) -> BindingCertificate:
    start = datetime.datetime.fromtimestamp(now, datetime.UTC)
    return testkit.make_certificate(None, "mi", days=days, start=start)


@dataclass
class ScriptedManagedIdentity:
    """A managed identity client whose tokens are made up; records every call."""

    lifetime: float = 3600.0
    certificate: BindingCertificate | None = None
    token_type: str | None = None  # None: Bearer when unbound, mtls_pop when bound
    calls: list[tuple[str | None, str, bool]] = field(default_factory=list)

    def token_flow(
        self, identity: ManagedIdentityId, scope: str, *, bound: bool, now: float, **_: Any
    ) -> Step[TokenResponse]:
        client_id = None if identity.is_system else identity.value
        self.calls.append((client_id, scope, bound))
        token_type = self.token_type or ("mtls_pop" if bound else "Bearer")
        access_token = fake_jwt(
            iss="https://issuer/v2.0", sub="mi-object-id", aud=EXCHANGE, exp=now + self.lifetime
        )
        return TokenResponse(
            access_token=access_token,
            token_type=token_type,
            expires_on=now + self.lifetime,
            binding_certificate=self.certificate if bound else None,
        )
        yield  # pragma: no cover - a flow that sends nothing


def fic_config(
    manifest: EmulatorManifest,
    *,
    scheme: str = "MTLS_POP",
    managed_identity_client_id: str | None = None,
    **credential: Any,
) -> dict[str, Any]:
    """The demo app with a SignedAssertionFromManagedIdentity credential, calling /whoami."""
    app = manifest.apps[0]
    entry: dict[str, Any] = {"SourceType": "SignedAssertionFromManagedIdentity", **credential}
    if managed_identity_client_id is not None:
        entry["ManagedIdentityClientId"] = managed_identity_client_id
    api: dict[str, Any] = {
        "BaseUrl": manifest.resource.base_url,
        "RelativePath": "whoami",
        "Scopes": [manifest.resource.scope],
        "RequestAppToken": True,
    }
    if scheme != "Bearer":
        api["ProtocolScheme"] = scheme
    return {
        "AzureAd": {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": app.client_id,
            "ClientCredentials": [entry],
        },
        API: api,
    }


def build(config: dict[str, Any], manifest: EmulatorManifest) -> ServiceProvider:
    """TokenAcquirerFactory → add_downstream_api → build, with the emulator's env values."""
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=manifest.env())
    factory.add_downstream_api(API)
    return factory.build()


def token_posts(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in log if e["endpoint"] in ("entra.token", "entra.mtls_token")]
