"""The dependency-injection container: the one module that knows dependency-injector.

Everything it wires is a plain class with typed constructor parameters, usable without it.
`TokenAcquirerFactory` (identity_web._factory) is the public face; tests and advanced users
swap a part with `container.<provider>.override(providers.Object(...))` before `build()`.

Providers, in the order data flows:

* `settings` (an `IdentityWebSettings`), `environ`, `clock`, `downstream_api_names` — inputs;
* `ca_bundle` — the trust roots for TLS: `SSL_CERT_FILE`, else the emulator manifest's
  `ca_bundle` when `IDENTITY_WEB_EMULATOR_MANIFEST` is set, else the system store;
* `credential_loaders` — a `CredentialSource` → loader dict (Path, Base64Encoded, ClientSecret,
  the StoreWith*, the two assertion sources, and KeyVault, whose fetcher asks `token_acquirer`
  for a managed identity token); `credentials` — the provider that selects the first
  `ClientCredentials` entry that loads;
* `connect_to` — the resolver seam (`IDENTITY_WEB_CONNECT_TO`, see `transport._connect_to`);
* `transport` — a resource: the HTTP transport and its client pool, closed on shutdown; the
  overall deadline of identity requests from `IDENTITY_WEB_REQUEST_DEADLINE` (`request_deadline`);
* `token_caches` — a resource: the `TokenCache` section's cache and its cross-process
  coordinator (`token_cache`, `cache_coordinator`), closed on shutdown;
* `managed_identity` (it starts making its first IMDS v2 key at build time when
  `prepare_managed_identity_key`: the configuration asks a managed identity for bound tokens),
  `token_acquirer`, `authorization_header_provider`;
* `downstream_apis` (name → options, validated) and `downstream_api`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from dependency_injector import containers, providers

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.acquisition import TokenAcquirer
from identity_web.acquisition._headers import AuthorizationHeaderProvider
from identity_web.cache import CacheSetup, build_token_cache
from identity_web.credentials import (
    Base64EncodedCertificateLoader,
    ClientSecretLoader,
    CredentialsProvider,
    PathCertificateLoader,
    StoreWithDistinguishedNameLoader,
    StoreWithSubjectNameLoader,
    StoreWithThumbprintLoader,
)
from identity_web.credentials.key_vault import KeyVaultCertificateLoader, KeyVaultHttpFetcher
from identity_web.credentials.managed_identity_assertion import (
    SignedAssertionFromManagedIdentityLoader,
)
from identity_web.credentials.signed_assertion_file import SignedAssertionFilePathLoader
from identity_web.downstream import DownstreamApi
from identity_web.managed_identity._client import ManagedIdentityClient
from identity_web.settings import CredentialSource, DownstreamApiOptions, IdentityWebSettings
from identity_web.transport import ConnectTo, HttpTransport
from identity_web.transport._deadline import deadline_from_environ

logger = logging.getLogger(__name__)

SSL_CERT_FILE = "SSL_CERT_FILE"
EMULATOR_MANIFEST = "IDENTITY_WEB_EMULATOR_MANIFEST"


def resolve_ca_bundle(environ: Mapping[str, str]) -> str | None:
    """The CA file TLS connections trust, or None for the system store.

    `SSL_CERT_FILE` wins (the OpenSSL convention, also what the emulator's env file sets);
    otherwise the `ca_bundle` of the emulator manifest named by `IDENTITY_WEB_EMULATOR_MANIFEST`.
    """
    explicit = environ.get(SSL_CERT_FILE, "").strip()
    if explicit:
        return explicit
    manifest = environ.get(EMULATOR_MANIFEST, "").strip()
    if not manifest:
        return None
    try:
        data = json.loads(Path(manifest).read_text(encoding="utf-8"))
        return str(data["ca_bundle"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigurationError(
            [ConfigurationProblem(EMULATOR_MANIFEST, f"cannot read ca_bundle from {manifest}")]
        ) from error


def registered_apis(
    settings: IdentityWebSettings, names: Sequence[str]
) -> dict[str, DownstreamApiOptions]:
    """The options of every registered downstream API, validated now (errors name the key)."""
    return {name: settings.downstream_api(name) for name in names}


def asks_bound_managed_identity(
    settings: IdentityWebSettings, apis: Mapping[str, DownstreamApiOptions]
) -> bool:
    """Whether the configuration asks a managed identity for bound tokens, so the first call
    needs an IMDS v2 key: an MTLS_POP API with `AcquireTokenOptions.ManagedIdentity`, or a
    `SignedAssertionFromManagedIdentity` credential used for MTLS_POP or `UseBoundCredential`."""
    bound = [api for api in apis.values() if api.is_mtls_pop]
    if any(
        api.acquire_token_options is not None
        and api.acquire_token_options.managed_identity is not None
        for api in bound
    ):
        return True
    federated = [
        credential
        for credential in settings.azure_ad.client_credentials
        if credential.source_type is CredentialSource.SignedAssertionFromManagedIdentity
        and not credential.skip
    ]
    return bool(federated) and (bool(bound) or any(c.use_bound_credential for c in federated))


def _transport(
    ca_bundle: str | None, connect_to: ConnectTo, deadline: float | None
) -> Iterator[HttpTransport]:
    transport = HttpTransport(ca_bundle=ca_bundle, connect_to=connect_to, deadline=deadline)
    try:
        yield transport
    finally:
        transport.close()


def _token_caches(
    settings: IdentityWebSettings,
    environ: Mapping[str, str],
    ca_bundle: str | None,
    clock: Callable[[], float],
) -> Iterator[CacheSetup]:
    setup = build_token_cache(settings.token_cache, environ=environ, ca_file=ca_bundle, clock=clock)
    try:
        yield setup
    finally:
        close = getattr(setup.cache, "close", None)
        if close is not None:
            close()


def _client_credentials_path(settings: IdentityWebSettings) -> str:
    return f"{settings.section}.ClientCredentials"


class IdentityWebContainer(containers.DeclarativeContainer):
    """Wires settings → credentials → transport → acquirer → headers → DownstreamApi."""

    settings = providers.Dependency(instance_of=IdentityWebSettings)
    environ: providers.Provider[Mapping[str, str]] = providers.Object(os.environ)
    clock = providers.Object(time.time)
    downstream_api_names: providers.Provider[tuple[str, ...]] = providers.Object(())

    ca_bundle = providers.Callable(resolve_ca_bundle, environ)
    connect_to = providers.Callable(ConnectTo.from_environ, environ)
    request_deadline = providers.Callable(deadline_from_environ, environ)
    transport = providers.Resource(
        _transport, ca_bundle=ca_bundle, connect_to=connect_to, deadline=request_deadline
    )
    downstream_apis = providers.Callable(registered_apis, settings, downstream_api_names)
    prepare_managed_identity_key = providers.Callable(
        asks_bound_managed_identity, settings, downstream_apis
    )
    managed_identity = providers.ThreadSafeSingleton(
        ManagedIdentityClient,
        environ=environ,
        options=settings.provided.azure_ad.managed_identity,
        prepare_key=prepare_managed_identity_key,
    )

    credential_loaders = providers.Dict(
        {
            CredentialSource.Path: providers.Factory(PathCertificateLoader, clock=clock),
            CredentialSource.Base64Encoded: providers.Factory(
                Base64EncodedCertificateLoader, clock=clock
            ),
            CredentialSource.ClientSecret: providers.Factory(ClientSecretLoader),
            CredentialSource.StoreWithThumbprint: providers.Factory(
                StoreWithThumbprintLoader, clock=clock, environ=environ
            ),
            CredentialSource.StoreWithDistinguishedName: providers.Factory(
                StoreWithDistinguishedNameLoader, clock=clock, environ=environ
            ),
            CredentialSource.StoreWithSubjectName: providers.Factory(
                StoreWithSubjectNameLoader, clock=clock, environ=environ
            ),
            CredentialSource.SignedAssertionFilePath: providers.Factory(
                SignedAssertionFilePathLoader, environ=environ, clock=clock
            ),
            CredentialSource.SignedAssertionFromManagedIdentity: providers.Factory(
                SignedAssertionFromManagedIdentityLoader,
                managed_identity=managed_identity,
                warm_up=True,
                clock=clock,
            ),
        }
    )
    credentials = providers.ThreadSafeSingleton(
        CredentialsProvider,
        descriptions=settings.provided.azure_ad.client_credentials,
        loaders=credential_loaders,
        key_path=providers.Callable(_client_credentials_path, settings),
    )

    token_caches = providers.Resource(
        _token_caches, settings, environ=environ, ca_bundle=ca_bundle, clock=clock
    )
    token_cache = token_caches.provided.cache
    cache_coordinator = token_caches.provided.coordinator

    token_acquirer = providers.ThreadSafeSingleton(
        TokenAcquirer,
        app=settings.provided.azure_ad,
        credentials=credentials,
        transport=transport,
        cache=token_cache,
        managed_identity=managed_identity,
        clock=clock,
        environ=environ,
        coordinator=cache_coordinator,
    )
    # KeyVault needs a managed identity token: the acquirer, reached lazily (it is built after
    # the loaders), and the package's trust roots.
    credential_loaders.add_kwargs(
        {
            CredentialSource.KeyVault: providers.Factory(
                KeyVaultCertificateLoader,
                fetcher=providers.Factory(
                    KeyVaultHttpFetcher, token_acquirer.provider, ca_bundle=ca_bundle
                ),
                clock=clock,
            )
        }
    )
    authorization_header_provider = providers.ThreadSafeSingleton(
        AuthorizationHeaderProvider, acquirer=token_acquirer
    )

    downstream_api = providers.ThreadSafeSingleton(
        DownstreamApi,
        apis=downstream_apis,
        header_provider=authorization_header_provider,
        transport=transport,
    )
