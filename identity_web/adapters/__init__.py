"""Bridges from the built services to the ecosystem: Azure SDK credentials, httpx, requests.

`ServiceProvider.token_credential(name)`, `async_token_credential(name)`, `httpx_auth(name)`,
`requests_auth(name)`, `http_client(name)` and `async_http_client(name)` call the functions
here. They use only the public face of the services (settings, token acquirer, authorization
header provider). azure-core and requests are optional (`identity-web[azure]`,
`identity-web[requests]`): their modules are imported when first asked for.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

import httpx

from identity_web.adapters._sections import Services, refuse_mtls_pop, section
from identity_web.adapters.httpx_client import HeaderAuth, async_client, client

if TYPE_CHECKING:
    from identity_web.adapters.azure_core import AsyncIdentityWebCredential, IdentityWebCredential
    from identity_web.adapters.requests_client import RequestsHeaderAuth
    from identity_web.transport import ConnectTo

__all__ = [
    "async_http_client",
    "async_token_credential",
    "http_client",
    "httpx_auth",
    "requests_auth",
    "token_credential",
]

_HTTPX_MTLS_POP_REFUSED = (
    "an Auth alone cannot make the TLS connection present the binding certificate; use "
    "http_client(name) / async_http_client(name), whose transport does"
)


def token_credential(
    services: Services, name: str | None, additionally_allowed_tenants: Collection[str]
) -> IdentityWebCredential:
    from identity_web.adapters.azure_core import IdentityWebCredential  # noqa: PLC0415 - optional

    return IdentityWebCredential(
        services, name, additionally_allowed_tenants=additionally_allowed_tenants
    )


def async_token_credential(
    services: Services, name: str | None, additionally_allowed_tenants: Collection[str]
) -> AsyncIdentityWebCredential:
    from identity_web.adapters.azure_core import (  # noqa: PLC0415 - optional
        AsyncIdentityWebCredential,
    )

    return AsyncIdentityWebCredential(
        services, name, additionally_allowed_tenants=additionally_allowed_tenants
    )


def httpx_auth(services: Services, name: str | None, scope: str | None) -> HeaderAuth:
    options = section(services.settings, name, scope)
    refuse_mtls_pop(options, name, _HTTPX_MTLS_POP_REFUSED)
    return HeaderAuth(services.authorization_header_provider, options)


def requests_auth(services: Services, name: str | None, scope: str | None) -> RequestsHeaderAuth:
    from identity_web.adapters.requests_client import (  # noqa: PLC0415 - optional
        MTLS_POP_REFUSED,
        RequestsHeaderAuth,
    )

    options = section(services.settings, name, scope)
    refuse_mtls_pop(options, name, MTLS_POP_REFUSED)
    return RequestsHeaderAuth(services.authorization_header_provider, options)


def http_client(
    services: Services, name: str, ca_bundle: str | None, connect_to: ConnectTo
) -> httpx.Client:
    options = services.settings.downstream_api(name)
    return client(services.authorization_header_provider, options, ca_bundle, connect_to)


def async_http_client(
    services: Services, name: str, ca_bundle: str | None, connect_to: ConnectTo
) -> httpx.AsyncClient:
    options = services.settings.downstream_api(name)
    return async_client(services.authorization_header_provider, options, ca_bundle, connect_to)
