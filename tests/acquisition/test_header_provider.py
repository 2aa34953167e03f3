"""AuthorizationHeaderProvider: checks before the network, header scheme, binding, metadata."""

from __future__ import annotations

from typing import Any

import pytest
from acquisition_helpers import (
    FakeCredentials,
    FakeManagedIdentity,
    ScriptedRunner,
    certificate_credential,
    secret_credential,
    token_answer,
)

from identity_web import InvalidRequestError
from identity_web.acquisition import AuthorizationHeaderProvider, TokenAcquirer
from identity_web.cache import InMemoryTokenCache
from identity_web.protocol import BindingCertificate
from identity_web.settings import DownstreamApiOptions, MicrosoftIdentityApplicationOptions


def provider(
    credential: Any, managed_identity: Any = None
) -> tuple[AuthorizationHeaderProvider, ScriptedRunner]:
    def handler(request: Any) -> Any:
        asked = (request.form or {}).get("token_type")
        return token_answer("mtls_pop" if asked == "mtls_pop" else "Bearer")

    runner = ScriptedRunner(handler)
    app = MicrosoftIdentityApplicationOptions.model_validate(
        {
            "Instance": "https://login.microsoftonline.com/",
            "TenantId": "contoso.com",
            "ClientId": "a",
        }
    )
    credentials = FakeCredentials(credential) if credential is not None else None
    acquirer = TokenAcquirer(
        app, credentials, runner, InMemoryTokenCache(), managed_identity, environ={}
    )
    return AuthorizationHeaderProvider(acquirer), runner


def api(**values: Any) -> DownstreamApiOptions:
    base: dict[str, Any] = {"BaseUrl": "https://api.contoso.com/", "Scopes": ["api://r/.default"]}
    base.update(values)
    return DownstreamApiOptions.model_validate(base)


def test_bearer_header_has_no_binding_certificate(app_certificate: BindingCertificate) -> None:
    headers, _ = provider(certificate_credential(app_certificate))
    info = headers.create_authorization_header(api(RequestAppToken=True))
    assert info.header_value == "Bearer at-Bearer"
    assert info.binding_certificate is None
    assert info.metadata["token_type"] == "Bearer"
    assert info.metadata["binding_thumbprint"] is None
    assert "at-Bearer" not in repr(info)


@pytest.mark.parametrize("scheme", ["MTLS_POP", "mtls_pop", "Mtls_Pop"])
def test_mtls_pop_header_carries_the_binding_certificate(
    app_certificate: BindingCertificate, scheme: str
) -> None:
    headers, runner = provider(certificate_credential(app_certificate))
    info = headers.create_authorization_header(api(RequestAppToken=True, ProtocolScheme=scheme))
    assert info.header_value == "mtls_pop at-mtls_pop"
    assert info.binding_certificate is app_certificate
    assert info.metadata["binding_thumbprint"] == app_certificate.x5t_s256
    assert info.metadata["token_source"] == "identity_provider"
    assert str(info.metadata["token_endpoint"]).startswith("https://mtlsauth.microsoft.com/")
    assert runner.requests[0].tls_identity is app_certificate


async def test_async_twin_gives_the_same_header(app_certificate: BindingCertificate) -> None:
    headers, runner = provider(certificate_credential(app_certificate))
    options = api(RequestAppToken=True, ProtocolScheme="MTLS_POP")
    first = await headers.create_authorization_header_async(options)
    second = headers.create_authorization_header(options)
    assert first.header_value == second.header_value
    assert second.metadata["token_source"] == "cache"
    assert len(runner.requests) == 1


def test_cache_hits_return_the_same_header_object(app_certificate: BindingCertificate) -> None:
    headers, runner = provider(certificate_credential(app_certificate))
    options = api(RequestAppToken=True, ProtocolScheme="MTLS_POP")
    first = headers.create_authorization_header(options)
    second = headers.create_authorization_header(options)
    third = headers.create_authorization_header(options)
    assert first.metadata["token_source"] == "identity_provider"
    assert second.metadata["token_source"] == "cache"
    assert third is second
    assert third.header_value == first.header_value
    assert third.binding_certificate is app_certificate
    forced = api(RequestAppToken=True, AcquireTokenOptions={"ForceRefresh": True})
    assert headers.create_authorization_header(forced) is not headers.create_authorization_header(
        forced
    )
    assert len(runner.requests) == 3


def test_mtls_pop_without_app_token_is_idw10116(app_certificate: BindingCertificate) -> None:
    headers, runner = provider(certificate_credential(app_certificate))
    with pytest.raises(
        InvalidRequestError,
        match=r"IDW10116: Token binding requires enabled app token acquisition\.",
    ):
        headers.create_authorization_header(api(ProtocolScheme="MTLS_POP"))
    assert runner.requests == []


def test_managed_identity_counts_as_an_app_token(app_certificate: BindingCertificate) -> None:
    headers, _ = provider(None, FakeManagedIdentity(app_certificate))
    options = api(ProtocolScheme="MTLS_POP", AcquireTokenOptions={"ManagedIdentity": {}})
    info = headers.create_authorization_header(options)
    assert info.header_value == "mtls_pop mi-token"
    assert info.binding_certificate is app_certificate


def test_secret_with_mtls_pop_is_idw10115() -> None:
    headers, runner = provider(secret_credential())
    with pytest.raises(InvalidRequestError) as caught:
        headers.create_authorization_header(api(RequestAppToken=True, ProtocolScheme="MTLS_POP"))
    assert caught.value.code == "IDW10115"
    assert runner.requests == []


def test_scope_without_default_is_idw10404() -> None:
    headers, runner = provider(secret_credential())
    with pytest.raises(InvalidRequestError, match="IDW10404"):
        headers.create_authorization_header(api(RequestAppToken=True, Scopes=["User.Read"]))
    assert runner.requests == []


def test_no_scopes_is_a_clear_error() -> None:
    headers, _ = provider(secret_credential())
    with pytest.raises(InvalidRequestError, match="No scope is configured"):
        headers.create_authorization_header(api(RequestAppToken=True, Scopes=[]))


def test_app_tokens_use_only_the_first_scope() -> None:
    headers, runner = provider(secret_credential())
    headers.create_authorization_header(
        api(RequestAppToken=True, Scopes=["api://a/.default", "api://b/.default"])
    )
    assert runner.requests[0].form is not None
    assert runner.requests[0].form["scope"] == "api://a/.default"


def test_user_tokens_are_not_supported() -> None:
    headers, _ = provider(secret_credential())
    with pytest.raises(InvalidRequestError, match="app tokens only"):
        headers.create_authorization_header(api())
