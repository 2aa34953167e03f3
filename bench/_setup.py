"""The shared stage: the emulator and the resource server in their own processes, and ours
and the peers configured against them.

Every implementation talks to the same servers over real TLS on 127.0.0.1 and trusts only
their CAs. Ours is configured the way a user configures it (Identity.Web keys, through
`TokenAcquirerFactory`); the peers the way their documentation shows, with the same kind of
credential as ours in the same row (a client secret, or the app's certificate).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msal
import requests
from azure.core.credentials import TokenCredential
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.pipeline.transport import AsyncioRequestsTransport
from azure.identity import CertificateCredential, ClientSecretCredential
from azure.identity.aio import CertificateCredential as AsyncCertificateCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential
from cryptography import x509
from cryptography.hazmat.primitives import hashes

from bench._servers import RemoteEmulator, ResourceServer, servers
from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.cache import InMemoryTokenCache
from identity_web.emulator import EmulatorManifest
from identity_web.settings import IdentityWebSettings

API = "MyApi"
TOKEN_ENDPOINTS = ("entra.token", "entra.mtls_token")
SECRET = "client secret"
CERTIFICATE = "certificate"


@dataclass(slots=True)
class BenchEnv:
    """The running servers and builders for every implementation under test.

    `manifest` is the emulator's, with a CA bundle that also trusts the resource server.
    """

    emulator: RemoteEmulator
    resource: ResourceServer
    manifest: EmulatorManifest

    @property
    def scope(self) -> str:
        return self.manifest.resource.scope

    @property
    def servers_note(self) -> str:
        return (
            f"servers: token endpoint = the emulator (own process); resource = "
            f"{self.resource.server}"
        )

    @property
    def whoami_url(self) -> str:
        return self.resource.whoami_url

    # -- ours ------------------------------------------------------------------------------

    def ours(self, *, mtls: bool = False, certificate: bool = False) -> ServiceProvider:
        """Our services: client secret + Bearer; certificate (PFX) + Bearer
        (`certificate=True`); certificate + MTLS_POP (`mtls=True`)."""
        if mtls:
            return self.build(self.certificate_config())
        if certificate:
            return self.build(self.certificate_config(scheme="Bearer"))
        return self.build(self.secret_config())

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
                "BaseUrl": self.resource.base_url,
                "RelativePath": "whoami",
                "Scopes": [manifest.resource.scope],
                "RequestAppToken": True,
            },
        }

    def certificate_config(self, scheme: str = "MTLS_POP") -> dict[str, Any]:
        config = self.secret_config()
        app = self.manifest.apps[0]
        config["AzureAd"]["ClientCredentials"] = [
            {
                "SourceType": "Path",
                "CertificateDiskPath": app.certificate_pfx_path,
                "CertificatePassword": app.certificate_pfx_password,
            }
        ]
        config[API]["ProtocolScheme"] = scheme
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

    def msal_app(self, *, certificate: bool = False) -> msal.ConfidentialClientApplication:
        """MSAL with the client secret or the app's certificate (private key + thumbprint, as
        MSAL's documentation shows); the authority's OpenID configuration is read now."""
        manifest = self.manifest
        return msal.ConfidentialClientApplication(
            manifest.apps[0].client_id,
            client_credential=self._msal_certificate() if certificate else self._secret(),
            authority=f"{manifest.instance}{manifest.tenant_id}",
            instance_discovery=False,
            http_client=self.requests_session(),
        )

    def _secret(self) -> str:
        secret = self.manifest.apps[0].client_secret
        if secret is None:
            raise RuntimeError("the emulator's demo app has no client secret")
        return secret

    def certificate_pem_path(self) -> str:
        path = self.manifest.apps[0].certificate_pem_path
        if path is None:
            raise RuntimeError("the emulator's demo app has no certificate")
        return path

    def _msal_certificate(self) -> dict[str, str]:
        pem = Path(self.certificate_pem_path()).read_bytes()
        certificate = x509.load_pem_x509_certificate(pem)
        return {
            "private_key": pem.decode("ascii"),
            "thumbprint": certificate.fingerprint(hashes.SHA1()).hex(),
        }

    def azure_credential(self, *, certificate: bool = False) -> TokenCredential:
        """azure-identity's `ClientSecretCredential`, or `CertificateCredential` (PEM file)."""
        manifest, app = self.manifest, self.manifest.apps[0]
        common: dict[str, Any] = {
            "authority": manifest.instance,
            "disable_instance_discovery": True,
            "connection_verify": manifest.ca_bundle,
        }
        if certificate:
            return CertificateCredential(
                manifest.tenant_id, app.client_id, self.certificate_pem_path(), **common
            )
        return ClientSecretCredential(manifest.tenant_id, app.client_id, self._secret(), **common)

    def azure_credential_async(self, *, certificate: bool = False) -> AsyncTokenCredential:
        """The asyncio credential; its transport runs requests in the loop's executor
        (aiohttp, azure-core's default async transport, is not installed here)."""
        manifest, app = self.manifest, self.manifest.apps[0]
        common: dict[str, Any] = {
            "authority": manifest.instance,
            "disable_instance_discovery": True,
            "connection_verify": manifest.ca_bundle,
            "transport": AsyncioRequestsTransport(
                session=self.requests_session(), connection_verify=manifest.ca_bundle
            ),
        }
        if certificate:
            return AsyncCertificateCredential(
                manifest.tenant_id, app.client_id, self.certificate_pem_path(), **common
            )
        return AsyncClientSecretCredential(
            manifest.tenant_id, app.client_id, self._secret(), **common
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
    """Start the emulator and the resource server, each in its own process; stop them after."""
    with servers() as (emulator, resource, manifest):
        yield BenchEnv(emulator, resource, manifest)
