"""The shared stage: one in-process emulator, and ours and the peers configured against it.

Every implementation talks to the same emulator over real TLS on 127.0.0.1 and trusts only
the emulator's CA. Ours is configured the way a user configures it (Identity.Web keys,
through `TokenAcquirerFactory`); the peers the way their documentation shows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msal
import requests
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.cache import InMemoryTokenCache
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings import IdentityWebSettings

API = "MyApi"
TOKEN_ENDPOINTS = ("entra.token", "entra.mtls_token")


@dataclass(slots=True)
class BenchEnv:
    """A running emulator and builders for every implementation under test."""

    emulator: Emulator

    @property
    def manifest(self) -> EmulatorManifest:
        return self.emulator.manifest

    @property
    def scope(self) -> str:
        return self.manifest.resource.scope

    @property
    def whoami_url(self) -> str:
        return f"{self.manifest.resource.base_url}whoami"

    # -- ours ------------------------------------------------------------------------------

    def ours(self, *, mtls: bool = False) -> ServiceProvider:
        """Our services: client secret + Bearer, or certificate (PFX) + MTLS_POP."""
        return self.build(self.certificate_config() if mtls else self.secret_config())

    def build(self, config: dict[str, Any]) -> ServiceProvider:
        """Our services for a configuration written the way a user writes it."""
        settings = IdentityWebSettings.from_mapping(config)
        factory = TokenAcquirerFactory(settings, environ=self.manifest.env())
        factory.add_downstream_api(API)
        return factory.build()

    def secret_config(self) -> dict[str, Any]:
        manifest, app = self.manifest, self.manifest.apps[0]
        return {
            "AzureAd": {
                "Instance": manifest.instance,
                "TenantId": manifest.tenant_id,
                "ClientId": app.client_id,
                "ClientCredentials": [
                    {"SourceType": "ClientSecret", "ClientSecret": app.client_secret}
                ],
            },
            API: {
                "BaseUrl": manifest.resource.base_url,
                "RelativePath": "whoami",
                "Scopes": [manifest.resource.scope],
                "RequestAppToken": True,
            },
        }

    def certificate_config(self) -> dict[str, Any]:
        config = self.secret_config()
        app = self.manifest.apps[0]
        config["AzureAd"]["ClientCredentials"] = [
            {
                "SourceType": "Path",
                "CertificateDiskPath": app.certificate_pfx_path,
                "CertificatePassword": app.certificate_pfx_password,
            }
        ]
        config[API]["ProtocolScheme"] = "MTLS_POP"
        return config

    # -- peers -----------------------------------------------------------------------------

    def requests_session(self) -> requests.Session:
        """A Session trusting only the emulator CA.

        `trust_env = False`: otherwise `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE` from the
        environment replace `session.verify` on every request.
        """
        session = requests.Session()
        session.verify = self.manifest.ca_bundle
        session.trust_env = False
        return session

    def msal_app(self) -> msal.ConfidentialClientApplication:
        """MSAL with the client secret; the authority's OpenID configuration is read now."""
        manifest, app = self.manifest, self.manifest.apps[0]
        return msal.ConfidentialClientApplication(
            app.client_id,
            client_credential=app.client_secret,
            authority=f"{manifest.instance}{manifest.tenant_id}",
            instance_discovery=False,
            http_client=self.requests_session(),
        )

    def azure_credential(self) -> ClientSecretCredential:
        manifest, app = self.manifest, self.manifest.apps[0]
        assert app.client_secret is not None
        return ClientSecretCredential(
            manifest.tenant_id,
            app.client_id,
            app.client_secret,
            authority=manifest.instance,
            disable_instance_discovery=True,
            connection_verify=manifest.ca_bundle,
        )

    def azure_credential_async(self) -> AsyncClientSecretCredential:
        """The asyncio credential; its transport runs requests in the loop's executor
        (aiohttp, azure-core's default async transport, is not installed here)."""
        manifest, app = self.manifest, self.manifest.apps[0]
        assert app.client_secret is not None
        return AsyncClientSecretCredential(
            manifest.tenant_id,
            app.client_id,
            app.client_secret,
            authority=manifest.instance,
            disable_instance_discovery=True,
            connection_verify=manifest.ca_bundle,
            transport=AsyncioRequestsTransport(
                session=self.requests_session(), connection_verify=manifest.ca_bundle
            ),
        )

    # -- the emulator's view ---------------------------------------------------------------

    def token_requests(self) -> int:
        """How many token requests (login or mtlsauth host) the emulator served."""
        return sum(len(self.emulator.requests(endpoint)) for endpoint in TOKEN_ENDPOINTS)

    def slow_token_endpoint(self, delay_ms: int, count: int) -> None:
        """The next `count` token requests wait `delay_ms` before being served normally."""
        self.emulator.inject_faults("entra.token", [{"status": None, "delay_ms": delay_ms}] * count)


def our_cache(services: ServiceProvider) -> InMemoryTokenCache:
    """The in-memory cache our acquirer uses (the default container's)."""
    cache = services.token_acquirer.cache
    if not isinstance(cache, InMemoryTokenCache):
        raise TypeError(f"expected the default InMemoryTokenCache, found {type(cache).__name__}")
    return cache


def clear_msal_cache(cache: msal.TokenCache) -> None:
    """Remove every access token through MSAL's public `TokenCache` API."""
    for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
        cache.remove_at(entry)


def azure_cache(credential: object) -> msal.TokenCache | None:
    """The `msal.TokenCache` inside an azure-identity credential (no public accessor exists:
    the sync credential keeps it as `_cache`, the asyncio one on its `_client`)."""
    cache = getattr(credential, "_cache", None)
    if cache is None:
        cache = getattr(getattr(credential, "_client", None), "_cache", None)
    return cache if isinstance(cache, msal.TokenCache) else None


def clear_azure_cache(credential: object) -> None:
    cache = azure_cache(credential)
    if cache is not None:
        clear_msal_cache(cache)


@contextlib.contextmanager
def bench_env() -> Iterator[BenchEnv]:
    """Start the emulator; stop it at the end."""
    with Emulator() as emulator:
        yield BenchEnv(emulator)
