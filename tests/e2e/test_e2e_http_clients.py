"""httpx and requests with identity-web's header: `httpx_auth`, `requests_auth`, and the clients
of `http_client` / `async_http_client`, Bearer and mTLS PoP, over real TLS to the emulator."""

from __future__ import annotations

import asyncio
import base64
import json
import ssl
import threading
import time
from typing import Any

import httpx
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from dependency_injector import providers
from e2e_helpers import API, build, certificate_config, token_requests

from identity_web import (
    BindingCertificate,
    ConfigurationError,
    InvalidRequestError,
    ServiceProvider,
    TokenAcquirerFactory,
)
from identity_web.adapters.httpx_client import BINDING_EXTENSION, BoundTransport
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings import IdentityWebSettings


def trust(manifest: EmulatorManifest) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=manifest.ca_bundle)


def test_httpx_auth_on_a_users_own_client_sends_the_cached_bearer_header(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    with build(certificate_config(manifest), manifest) as services:
        auth = services.httpx_auth(API)
        with httpx.Client(verify=trust(manifest), auth=auth) as client:
            first = client.get(f"{manifest.resource.base_url}whoami")
            second = client.get(f"{manifest.resource.base_url}whoami")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["scheme"] == "Bearer"
    assert len(token_requests(emulator.requests())) == 1


async def test_httpx_auth_async_flow_shares_one_acquisition_among_concurrent_requests(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    async with build(certificate_config(manifest), manifest) as services:
        auth = services.httpx_auth(scope=manifest.resource.scope)
        async with httpx.AsyncClient(verify=trust(manifest), auth=auth) as client:
            url = f"{manifest.resource.base_url}whoami"
            responses = await asyncio.gather(*(client.get(url) for _ in range(8)))
    assert {r.status_code for r in responses} == {200}
    assert len(token_requests(emulator.requests())) == 1


def test_the_header_is_renewed_when_the_token_expires(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    """The services' clock and the emulator's move past the token's expiry: the next request
    gets a new token."""
    now = [time.time()]
    factory = TokenAcquirerFactory(
        IdentityWebSettings.from_mapping(certificate_config(manifest)), environ=manifest.env()
    )
    factory.container.clock.override(providers.Object(lambda: now[0]))
    with factory.add_downstream_api(API).build() as services:
        auth = services.requests_auth(API)
        url = f"{manifest.resource.base_url}whoami"
        first = requests.get(url, auth=auth, verify=manifest.ca_bundle, timeout=10)
        later = emulator.config.token_lifetime + 60  # past the first token's expiry
        now[0] += later
        emulator.state.clock.shift(later)
        second = requests.get(url, auth=auth, verify=manifest.ca_bundle, timeout=10)
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json()["scheme"] == second.json()["scheme"] == "Bearer"
    assert len(token_requests(emulator.requests())) == 2


CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
CHALLENGE = {
    "status": 401,
    "headers": {
        "WWW-Authenticate": 'Bearer error="insufficient_claims", '
        f'claims="{base64.b64encode(CLAIMS.encode()).decode()}"'
    },
}


def test_httpx_auth_answers_a_claims_challenge_once_with_a_token_for_those_claims(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    emulator.inject_faults("resource", [CHALLENGE])
    with build(certificate_config(manifest), manifest) as services:
        auth = services.httpx_auth(API)
        with httpx.Client(verify=trust(manifest), auth=auth) as client:
            response = client.post(f"{manifest.resource.base_url}items", json={"n": 1})
            emulator.inject_faults("resource", [CHALLENGE, CHALLENGE])
            again = client.get(f"{manifest.resource.base_url}whoami")
    assert response.status_code == 200
    assert response.json()["body"] == {"n": 1}  # the retry sent the body again
    assert again.status_code == 401  # a second challenge is the caller's
    tokens = token_requests(emulator.requests())
    assert [json.loads(t["form"].get("claims", "{}")) for t in tokens] == [
        {},
        json.loads(CLAIMS),
        json.loads(CLAIMS),
    ]


async def test_a_bound_async_client_answers_a_claims_challenge_with_a_new_bound_token(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    emulator.inject_faults("resource", [CHALLENGE])
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    async with build(config, manifest) as services, services.async_http_client(API) as client:
        response = await client.get("whoami")
    assert response.status_code == 200
    assert response.json()["scheme"] == "mtls_pop"
    tokens = token_requests(emulator.requests())
    assert [t["endpoint"] for t in tokens] == ["entra.mtls_token", "entra.mtls_token"]
    assert "claims" in tokens[1]["form"]


def test_requests_auth_from_threads_shares_one_acquisition(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    statuses: list[int] = []
    with build(certificate_config(manifest), manifest) as services:
        auth = services.requests_auth(API)
        url = f"{manifest.resource.base_url}whoami"

        def call() -> None:
            statuses.append(
                requests.get(url, auth=auth, verify=manifest.ca_bundle, timeout=10).status_code
            )

        threads = [threading.Thread(target=call) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert statuses == [200] * 6
    assert len(token_requests(emulator.requests())) == 1


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_http_client_calls_the_section_with_its_base_url_and_scheme(
    scheme: str, manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = certificate_config(manifest, ProtocolScheme=scheme)
    with build(config, manifest) as services, services.http_client(API) as client:
        response = client.get("whoami")
    assert response.status_code == 200
    seen = response.json()
    if scheme == "MTLS_POP":
        thumbprint = emulator.demo_credential.x5t_s256
        assert seen["scheme"] == "mtls_pop"
        assert seen["cnf_x5t_s256"] == seen["client_cert_x5t_s256"] == thumbprint
    else:
        assert (seen["scheme"], seen["client_cert_x5t_s256"]) == ("Bearer", None)


def test_http_client_binds_managed_identity_calls_to_the_imds_certificate(
    manifest: EmulatorManifest,
) -> None:
    config = certificate_config(
        manifest, ProtocolScheme="MTLS_POP", AcquireTokenOptions={"ManagedIdentity": {}}
    )
    with build(config, manifest) as services, services.http_client(API) as client:
        response = client.get("whoami")
        header = bound_header(services)
    assert response.status_code == 200
    seen = response.json()
    assert seen["scheme"] == "mtls_pop"
    assert seen["cnf_x5t_s256"] == seen["client_cert_x5t_s256"]
    assert seen["cnf_x5t_s256"] == header.binding_certificate.x5t_s256


def test_no_lock_is_held_while_a_request_is_out(manifest: EmulatorManifest) -> None:
    """A flow suspended at its yield (its request on the wire) blocks no other request."""
    url = f"{manifest.resource.base_url}whoami"
    with build(certificate_config(manifest), manifest) as services:
        auth = services.httpx_auth(API)
        suspended = auth.sync_auth_flow(httpx.Request("GET", url))
        assert next(suspended).headers["Authorization"].startswith("Bearer ")
        statuses: list[int] = []

        def other_request() -> None:
            with httpx.Client(verify=trust(manifest), auth=auth) as client:
                statuses.append(client.get(url).status_code)

        thread = threading.Thread(target=other_request)
        thread.start()
        thread.join(timeout=30)
        suspended.close()
    assert statuses == [200]


async def test_async_http_client_sends_bound_calls(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    async with build(config, manifest) as services, services.async_http_client(API) as client:
        responses = await asyncio.gather(client.get("whoami"), client.post("items", json={}))
    assert [r.status_code for r in responses] == [200, 200]
    seen = responses[0].json()
    assert seen["scheme"] == "mtls_pop"
    assert seen["cnf_x5t_s256"] == emulator.demo_credential.x5t_s256
    assert len(token_requests(emulator.requests())) == 1


def test_an_auth_alone_and_requests_refuse_an_mtls_pop_section(
    manifest: EmulatorManifest,
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    with build(config, manifest) as services:
        with pytest.raises(ConfigurationError, match=r"MyApi\.ProtocolScheme: is MTLS_POP"):
            services.httpx_auth(API)
        with pytest.raises(ConfigurationError, match="never writes a private key to disk"):
            services.requests_auth(API)
        with pytest.raises(TypeError, match="not both"):
            services.httpx_auth(API, scope=manifest.resource.scope)


def bound_header(services: ServiceProvider) -> Any:
    return services.authorization_header_provider.create_authorization_header(
        services.settings.downstream_api(API)
    )


def test_the_transport_never_sends_a_bound_token_without_its_certificate_or_over_http(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    with build(config, manifest) as services, BoundTransport(manifest.ca_bundle) as transport:
        information = bound_header(services)
        headers = {"Authorization": information.header_value}
        url = f"{manifest.resource.base_url}whoami"
        with pytest.raises(InvalidRequestError, match="IDW10115"):
            transport.handle_request(httpx.Request("GET", url, headers=headers))
        plain = httpx.Request(
            "GET",
            url.replace("https://", "http://"),
            headers=headers,
            extensions={BINDING_EXTENSION: information.binding_certificate},
        )
        with pytest.raises(InvalidRequestError, match="never sent over plain HTTP"):
            transport.handle_request(plain)
    assert emulator.requests("resource") == []


def client_certificate(emulator: Emulator, name: str) -> BindingCertificate:
    """A client certificate from the emulator's CA, which its TLS hosts trust."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    return BindingCertificate.create(
        emulator.state.ca.issue(key.public_key(), subject, days=1), key
    )


def test_a_renewed_certificate_gets_a_new_connection_pool(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    """Each request presents the certificate it carries; pools of old certificates close."""
    bindings = [client_certificate(emulator, f"app-{n}") for n in range(3)]
    url = f"{manifest.resource.base_url}whoami"
    with BoundTransport(manifest.ca_bundle) as transport:
        for binding in bindings:
            request = httpx.Request("GET", url, extensions={BINDING_EXTENSION: binding})
            transport.handle_request(request).close()
        assert transport.bound_thumbprints == tuple(b.x5t_s256 for b in bindings[1:])
    seen = [e["client_cert_x5t_s256"] for e in emulator.requests("resource")]
    assert seen == [b.x5t_s256 for b in bindings]
