"""The acquirer and header provider against the emulator over real TLS (tier 2)."""

from __future__ import annotations

import asyncio
import datetime
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from acquisition_helpers import token_posts
from cryptography.hazmat.primitives import serialization
from testkit import invalid_client

from identity_web import ServiceError, TokenSource, TokenTypeMismatchError
from identity_web.acquisition import AuthorizationHeaderProvider, TokenAcquirer, TokenRequestOptions
from identity_web.cache import InMemoryTokenCache
from identity_web.credentials import CredentialsProvider, builtin_loaders
from identity_web.emulator import Emulator
from identity_web.emulator._pki import name
from identity_web.protocol import BindingCertificate
from identity_web.protocol.rfc7523 import decode_segments
from identity_web.settings import (
    CredentialDescription,
    DownstreamApiOptions,
    MicrosoftIdentityApplicationOptions,
)
from identity_web.transport import HttpTransport


def app_settings(emulator: Emulator) -> MicrosoftIdentityApplicationOptions:
    manifest = emulator.manifest
    return MicrosoftIdentityApplicationOptions.model_validate(
        {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": manifest.apps[0].client_id,
        }
    )


def secret_credentials(emulator: Emulator) -> CredentialsProvider:
    secret = emulator.manifest.apps[0].client_secret
    description = CredentialDescription.model_validate(
        {"SourceType": "ClientSecret", "ClientSecret": secret}
    )
    return CredentialsProvider([description], builtin_loaders())


def certificate_credentials(path: str, password: str | None = None) -> CredentialsProvider:
    values = {"SourceType": "Path", "CertificateDiskPath": path, "CertificatePassword": password}
    description = CredentialDescription.model_validate(values)
    return CredentialsProvider([description], builtin_loaders())


def pfx_credentials(emulator: Emulator) -> CredentialsProvider:
    app = emulator.manifest.apps[0]
    assert app.certificate_pfx_path is not None
    return certificate_credentials(app.certificate_pfx_path, app.certificate_pfx_password)


def acquirer_for(
    emulator: Emulator,
    credentials: CredentialsProvider,
    transport: HttpTransport,
    cache: InMemoryTokenCache | None = None,
) -> TokenAcquirer:
    return TokenAcquirer(
        app_settings(emulator),
        credentials,
        transport,
        cache if cache is not None else InMemoryTokenCache(),
        retry_scale=0.01,
        environ={},
    )


def mtls_api(emulator: Emulator) -> DownstreamApiOptions:
    resource = emulator.manifest.resource
    return DownstreamApiOptions.model_validate(
        {
            "BaseUrl": resource.base_url,
            "Scopes": [resource.scope],
            "RequestAppToken": True,
            "ProtocolScheme": "MTLS_POP",
        }
    )


def whoami(transport: HttpTransport, emulator: Emulator, header: str, binding: Any) -> Any:
    client = transport.client_for(binding)
    url = emulator.manifest.resource.base_url + "whoami"
    response = client.get(url, headers={"Authorization": header})
    assert response.status_code == 200, response.text
    return response.json()


# -- the three ways to get a token -------------------------------------------------------------


def test_bearer_with_a_client_secret(emulator: Emulator, transport: HttpTransport) -> None:
    acquirer = acquirer_for(emulator, secret_credentials(emulator), transport)
    scope = emulator.manifest.resource.scope
    result = acquirer.acquire_token_for_app(scope)
    assert result.token_type == "Bearer"
    assert result.binding_certificate is None
    (post,) = token_posts(emulator)
    assert post["endpoint"] == "entra.token"
    assert post["client_cert_x5t_s256"] is None
    assert post["form"]["grant_type"] == "client_credentials"
    assert post["form"]["scope"] == scope
    claims = whoami(transport, emulator, result.authorization_header, None)
    assert claims["bound"] is False
    assert claims["appidacr"] == "1"


def test_bearer_with_a_certificate_signs_a_ps256_assertion(
    emulator: Emulator, transport: HttpTransport
) -> None:
    acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport)
    result = acquirer.acquire_token_for_app(emulator.manifest.resource.scope)
    assert result.token_type == "Bearer"
    (post,) = token_posts(emulator)
    assert post["endpoint"] == "entra.token"
    assert post["client_cert_x5t_s256"] is None
    assert post["form"]["client_assertion_type"].endswith(":jwt-bearer")
    claims = whoami(transport, emulator, result.authorization_header, None)
    assert claims["appidacr"] == "2"
    assert claims["bound"] is False


def test_mtls_pop_with_a_certificate_is_bound_to_the_returned_certificate(
    emulator: Emulator, transport: HttpTransport
) -> None:
    headers = AuthorizationHeaderProvider(
        acquirer_for(emulator, pfx_credentials(emulator), transport)
    )
    info = headers.create_authorization_header(mtls_api(emulator))
    assert info.header_value.startswith("mtls_pop ")
    assert info.binding_certificate is not None
    thumbprint = info.binding_certificate.x5t_s256
    assert thumbprint == emulator.demo_credential.x5t_s256
    assert info.metadata["binding_thumbprint"] == thumbprint
    discovery = [e for e in emulator.requests() if e["endpoint"] == "entra.openid_configuration"]
    assert len(discovery) == 1
    assert discovery[0]["client_cert_x5t_s256"] is None
    (post,) = token_posts(emulator)
    assert post["endpoint"] == "entra.mtls_token"
    assert post["client_cert_x5t_s256"] == thumbprint
    assert post["form"]["token_type"] == "mtls_pop"
    assert "client_assertion" not in post["form"]
    claims = whoami(transport, emulator, info.header_value, info.binding_certificate)
    assert claims["cnf_x5t_s256"] == thumbprint
    assert claims["client_cert_x5t_s256"] == thumbprint
    assert claims["token_type"] == "mtls_pop"


def test_bound_token_without_its_certificate_is_refused_by_the_resource(
    emulator: Emulator, transport: HttpTransport
) -> None:
    headers = AuthorizationHeaderProvider(
        acquirer_for(emulator, pfx_credentials(emulator), transport)
    )
    info = headers.create_authorization_header(mtls_api(emulator))
    url = emulator.manifest.resource.base_url + "whoami"
    response = transport.client_for(None).get(url, headers={"Authorization": info.header_value})
    assert response.status_code == 401


# -- fail closed and the cache -----------------------------------------------------------------


def test_a_downgraded_answer_fails_closed_and_nothing_is_cached(
    emulator: Emulator, transport: HttpTransport
) -> None:
    downgrade = {"token_type": "Bearer", "access_token": "downgraded", "expires_in": 3599}
    emulator.inject_faults("entra.mtls_token", [{"status": 200, "body": json.dumps(downgrade)}])
    cache = InMemoryTokenCache()
    acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport, cache)
    scope = emulator.manifest.resource.scope
    with pytest.raises(TokenTypeMismatchError):
        acquirer.acquire_token_for_app(scope, bound=True)
    assert len(cache) == 0
    result = acquirer.acquire_token_for_app(scope, bound=True)
    assert result.token_type == "mtls_pop"
    assert result.token_source is TokenSource.IDENTITY_PROVIDER


def test_second_call_is_a_cache_hit_with_the_same_binding_and_kinds_do_not_mix(
    emulator: Emulator, transport: HttpTransport
) -> None:
    acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport)
    scope = emulator.manifest.resource.scope
    first = acquirer.acquire_token_for_app(scope, bound=True)
    second = acquirer.acquire_token_for_app(scope, bound=True)
    assert second.token_source is TokenSource.CACHE
    assert second.binding_certificate is first.binding_certificate
    assert second.access_token == first.access_token
    bearer = acquirer.acquire_token_for_app(scope)
    assert bearer.token_type == "Bearer"
    assert bearer.token_source is TokenSource.IDENTITY_PROVIDER
    assert acquirer.acquire_token_for_app(scope).token_source is TokenSource.CACHE
    forced = acquirer.acquire_token_for_app(
        scope, TokenRequestOptions(force_refresh=True), bound=True
    )
    assert forced.token_source is TokenSource.IDENTITY_PROVIDER
    assert forced.access_token != first.access_token
    assert [p["endpoint"] for p in token_posts(emulator)] == [
        "entra.mtls_token",
        "entra.token",
        "entra.mtls_token",
    ]


def renew(emulator: Emulator, path: Path) -> BindingCertificate:
    """Issue a new certificate for the demo app's key, register it, write it as PEM at `path`."""
    current = emulator.demo_credential
    state = emulator.state
    certificate = state.ca.issue(
        current.private_key.public_key(), name("identity-web demo app renewed"), days=30
    )
    state.add_app_certificate(emulator.demo_app.client_id, certificate)
    key_pem = current.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM) + key_pem)
    return BindingCertificate.create(certificate, current.private_key)


def test_a_renewed_certificate_misses_the_cache(
    emulator: Emulator, transport: HttpTransport, tmp_path: Path
) -> None:
    pem_path = tmp_path / "app.pem"
    original = emulator.manifest.apps[0].certificate_pem_path
    assert original is not None
    pem_path.write_bytes(Path(original).read_bytes())
    credentials = certificate_credentials(str(pem_path))
    acquirer = acquirer_for(emulator, credentials, transport)
    scope = emulator.manifest.resource.scope
    first = acquirer.acquire_token_for_app(scope, bound=True)
    renewed = renew(emulator, pem_path)
    assert acquirer.acquire_token_for_app(scope, bound=True).token_source is TokenSource.CACHE
    credentials.reset()
    second = acquirer.acquire_token_for_app(scope, bound=True)
    assert second.token_source is TokenSource.IDENTITY_PROVIDER
    assert second.binding_certificate is not None
    assert second.binding_certificate.x5t_s256 == renewed.x5t_s256
    assert first.binding_certificate is not None
    assert renewed.x5t_s256 != first.binding_certificate.x5t_s256
    posts = token_posts(emulator)
    assert [p["client_cert_x5t_s256"] for p in posts] == [
        first.binding_certificate.x5t_s256,
        renewed.x5t_s256,
    ]


# -- certificate reload-and-retry --------------------------------------------------------------


def test_aadsts700027_reloads_the_certificate_and_retries_once(
    emulator: Emulator, transport: HttpTransport, tmp_path: Path
) -> None:
    pem_path = tmp_path / "app.pem"
    original = emulator.manifest.apps[0].certificate_pem_path
    assert original is not None
    pem_path.write_bytes(Path(original).read_bytes())
    acquirer = acquirer_for(emulator, certificate_credentials(str(pem_path)), transport)
    renewed = renew(emulator, pem_path)  # the file already holds the rotated certificate
    emulator.inject_faults("entra.mtls_token", [invalid_client(700027)])
    result = acquirer.acquire_token_for_app(emulator.manifest.resource.scope, bound=True)
    posts = token_posts(emulator)
    assert [p["status"] for p in posts] == [401, 200]
    assert result.binding_certificate is not None
    assert result.binding_certificate.x5t_s256 == renewed.x5t_s256
    assert posts[1]["client_cert_x5t_s256"] == renewed.x5t_s256


def test_the_retry_happens_once_only(emulator: Emulator, transport: HttpTransport) -> None:
    emulator.inject_faults("entra.token", [invalid_client(700027), invalid_client(700027)])
    acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport)
    with pytest.raises(ServiceError) as caught:
        acquirer.acquire_token_for_app(emulator.manifest.resource.scope)
    assert caught.value.has_code(700027)
    assert len(token_posts(emulator)) == 2


def test_other_aadsts_codes_are_not_retried(emulator: Emulator, transport: HttpTransport) -> None:
    emulator.inject_faults("entra.token", [invalid_client(7000215)])
    acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport)
    with pytest.raises(ServiceError) as caught:
        acquirer.acquire_token_for_app(emulator.manifest.resource.scope)
    assert caught.value.error_codes == (7000215,)
    assert len(token_posts(emulator)) == 1


# -- single-flight -----------------------------------------------------------------------------


def test_fifty_threads_on_a_cold_key_cause_one_token_request(
    emulator: Emulator, transport: HttpTransport
) -> None:
    emulator.inject_faults("entra.mtls_token", [{"status": None, "delay_ms": 300}])
    acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport)
    scope = emulator.manifest.resource.scope
    barrier = threading.Barrier(50)
    results: list[Any] = []
    errors: list[BaseException] = []

    def call() -> None:
        barrier.wait()
        try:
            results.append(acquirer.acquire_token_for_app(scope, bound=True))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(results) == 50
    assert len({r.access_token for r in results}) == 1
    assert len(token_posts(emulator)) == 1


async def test_fifty_tasks_on_a_cold_key_cause_one_token_request(emulator: Emulator) -> None:
    emulator.inject_faults("entra.mtls_token", [{"status": None, "delay_ms": 300}])
    async with HttpTransport(ca_bundle=emulator.manifest.ca_bundle) as transport:
        acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport)
        scope = emulator.manifest.resource.scope
        results = await asyncio.gather(
            *(acquirer.acquire_token_for_app_async(scope, bound=True) for _ in range(50))
        )
        assert len({r.access_token for r in results}) == 1
        assert all(r.binding_certificate is results[0].binding_certificate for r in results)
        assert len(token_posts(emulator)) == 1
        again = await acquirer.acquire_token_for_app_async(scope, bound=True)
        assert again.token_source is TokenSource.CACHE


def test_bearer_result_reports_the_login_token_endpoint(
    emulator: Emulator, transport: HttpTransport
) -> None:
    acquirer = acquirer_for(emulator, pfx_credentials(emulator), transport)
    result = acquirer.acquire_token_for_app(emulator.manifest.resource.scope)
    expected = f"{emulator.manifest.instance}{emulator.manifest.tenant_id}/oauth2/v2.0/token"
    assert result.token_endpoint == expected
    _, claims = decode_segments(result.access_token)
    assert claims["exp"] > datetime.datetime.now(datetime.UTC).timestamp()
