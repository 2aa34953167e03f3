"""The mTLS token endpoint rule, tenants, regions and AADSTS classification (wire-protocol §2.2)."""

from __future__ import annotations

import json

import pytest

from identity_web import InvalidRequestError, ServiceError, TokenAcquisitionError
from identity_web.protocol import HttpResponse, entra
from identity_web.protocol.entra import (
    check_app_tenant,
    is_certificate_reload_error,
    mtls_endpoint_discovery_flow,
    mtls_token_endpoint,
    normalize_region,
    resolve_region,
    token_endpoint,
)

NET_TENANT = "123456-1234-2345-1234561234"
GOV_TENANT = "17b189bc-2b81-4ec5-aa51-3e628cbc931b"


def _token_url(host: str, tenant: str) -> str:
    return f"https://{host}/{tenant}/oauth2/v2.0/token"


@pytest.mark.parametrize(
    ("login_url", "region", "expected"),
    [
        # The five URLs asserted by MSAL .NET's unit tests.
        (
            _token_url("login.microsoftonline.com", NET_TENANT),
            "eastus",
            "https://eastus.mtlsauth.microsoft.com/123456-1234-2345-1234561234/oauth2/v2.0/token",
        ),
        (
            _token_url("login.microsoftonline.com", NET_TENANT),
            None,
            "https://mtlsauth.microsoft.com/123456-1234-2345-1234561234/oauth2/v2.0/token",
        ),
        (
            _token_url("login.microsoftonline.us", GOV_TENANT),
            "eastus",
            "https://eastus.mtlsauth.microsoftonline.us/17b189bc-2b81-4ec5-aa51-3e628cbc931b/oauth2/v2.0/token",
        ),
        (
            _token_url("login.partner.microsoftonline.cn", GOV_TENANT),
            None,
            "https://mtlsauth.partner.microsoftonline.cn/17b189bc-2b81-4ec5-aa51-3e628cbc931b/oauth2/v2.0/token",
        ),
        (
            _token_url("login.myLocalAAD.com", NET_TENANT),
            None,
            "https://mtlsauth.mylocalaad.com/123456-1234-2345-1234561234/oauth2/v2.0/token",
        ),
        # The two asserted by MSAL Python's tests (the second keeps an explicit port).
        (
            _token_url("login.microsoftonline.com", "my_tenant"),
            "westus3",
            "https://westus3.mtlsauth.microsoft.com/my_tenant/oauth2/v2.0/token",
        ),
        (
            "https://login.microsoftonline.com:8443/t/token",
            None,
            "https://mtlsauth.microsoft.com:8443/t/token",
        ),
    ],
)
def test_reference_urls(login_url: str, region: str | None, expected: str) -> None:
    assert mtls_token_endpoint(login_url, region=region) == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("login.windows.net", "mtlsauth.microsoft.com"),
        ("login.microsoft.com", "mtlsauth.microsoft.com"),
        ("LOGIN.MICROSOFTONLINE.COM", "mtlsauth.microsoft.com"),
        ("login.sovcloud-identity.fr", "mtlsauth.sovcloud-identity.fr"),
        ("login.sovcloud-identity.de", "mtlsauth.sovcloud-identity.de"),
        ("login.sovcloud-identity.sg", "mtlsauth.sovcloud-identity.sg"),
    ],
)
def test_login_hosts_map_statically(host: str, expected: str) -> None:
    assert mtls_token_endpoint(_token_url(host, "t")) == _token_url(expected, "t")


@pytest.mark.parametrize(
    ("host", "suggestion"),
    [
        (
            "login.usgovcloudapi.net",
            "login.usgovcloudapi.net is not supported for mTLS PoP, please use "
            "login.microsoftonline.us",
        ),
        (
            "login.chinacloudapi.cn",
            "login.chinacloudapi.cn is not supported for mTLS PoP, please use "
            "login.partner.microsoftonline.cn",
        ),
    ],
)
def test_deprecated_sovereign_aliases_are_refused_with_the_host_to_use(
    host: str, suggestion: str
) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        mtls_token_endpoint(_token_url(host, "t"), region="eastus")
    assert suggestion in str(caught.value)
    assert caught.value.code == "mtls_pop_not_supported_for_environment"


@pytest.mark.parametrize(
    "host",
    [
        "sts.windows.net",
        "mtlsauth.microsoft.com",
        "graph.microsoft.com",
        "login-us.microsoftonline.com",
    ],
)
def test_entra_hosts_not_starting_with_login_are_refused(host: str) -> None:
    with pytest.raises(InvalidRequestError, match="only login"):
        mtls_token_endpoint(_token_url(host, "t"))


@pytest.mark.parametrize("host", ["127.0.0.1:8443", "localhost:9000", "id.contoso.com"])
def test_other_hosts_need_openid_discovery(host: str) -> None:
    assert mtls_token_endpoint(_token_url(host, "t")) is None


@pytest.mark.parametrize("region", ["east us!", "eu-west", "", None])
def test_invalid_regions_are_ignored(region: str | None) -> None:
    url = mtls_token_endpoint(_token_url("login.microsoftonline.com", "t"), region=region)
    assert url == _token_url("mtlsauth.microsoft.com", "t")


def test_region_resolution() -> None:
    env = {"REGION_NAME": "West US 3", "MSAL_FORCE_REGION": "northeurope"}
    assert resolve_region(None, env) is None
    assert resolve_region("eastus", env) == "eastus"
    assert resolve_region("TryAutoDetect", env) == "westus3"
    assert resolve_region("tryautodetect", {"MSAL_FORCE_REGION": "northeurope"}) == "northeurope"
    assert resolve_region("TryAutoDetect", {}) is None
    assert resolve_region("TryAutoDetect", {"REGION_NAME": "bad/region"}) is None
    assert normalize_region("West Europe") == "westeurope"


def test_token_endpoint_of_an_instance() -> None:
    assert token_endpoint("https://login.microsoftonline.com/", "contoso") == _token_url(
        "login.microsoftonline.com", "contoso"
    )


@pytest.mark.parametrize("tenant", ["common", "organizations", "consumers", "Common", ""])
def test_app_tokens_refuse_non_tenants(tenant: str) -> None:
    with pytest.raises(InvalidRequestError, match="IDW10405") as caught:
        check_app_tenant(tenant, where="AzureAd.TenantId")
    assert caught.value.code == "IDW10405"


def test_app_tokens_accept_tenant_ids_and_domains() -> None:
    check_app_tenant("contoso.onmicrosoft.com", where="x")
    check_app_tenant(GOV_TENANT, where="x")


@pytest.mark.parametrize(
    ("codes", "reload"),
    [
        ([700027], True),
        ([700024], True),
        ([7000214], True),
        ([1000502], True),
        ([7000215], False),
        ([700016], False),
        ([], False),
    ],
)
def test_certificate_reload_codes(codes: list[int], reload: bool) -> None:
    error = ServiceError(status=401, error="invalid_client", error_codes=codes)
    assert is_certificate_reload_error(error) is reload


def test_discovery_reads_the_mtls_endpoint_alias_without_a_client_certificate() -> None:
    flow = mtls_endpoint_discovery_flow("https://127.0.0.1:8443/", "tenant-1")
    request = next(flow)
    assert request.method == "GET"
    assert request.url == "https://127.0.0.1:8443/tenant-1/v2.0/.well-known/openid-configuration"
    assert request.tls_identity is None
    document = {
        "token_endpoint": "https://127.0.0.1:8443/tenant-1/oauth2/v2.0/token",
        "mtls_endpoint_aliases": {
            "token_endpoint": "https://127.0.0.1:9443/tenant-1/oauth2/v2.0/token"
        },
    }
    with pytest.raises(StopIteration) as done:
        flow.send(HttpResponse(200, {}, json.dumps(document).encode()))
    assert done.value.value == "https://127.0.0.1:9443/tenant-1/oauth2/v2.0/token"


@pytest.mark.parametrize(
    "document",
    [
        {"token_endpoint": "https://x/t/oauth2/v2.0/token"},
        {"mtls_endpoint_aliases": {"token_endpoint": "http://x/t/oauth2/v2.0/token"}},
    ],
)
def test_discovery_without_a_usable_alias_fails_clearly(document: dict[str, object]) -> None:
    flow = mtls_endpoint_discovery_flow("https://id.contoso.com/", "t")
    next(flow)
    with pytest.raises(TokenAcquisitionError, match=r"mtls|non-HTTPS"):
        flow.send(HttpResponse(200, {}, json.dumps(document).encode()))


def test_discovery_error_answer_is_a_service_error() -> None:
    flow = mtls_endpoint_discovery_flow("https://id.contoso.com/", "nope")
    next(flow)
    body = {"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant 'nope' not found."}
    with pytest.raises(ServiceError) as caught:
        flow.send(HttpResponse(400, {}, json.dumps(body).encode()))
    assert caught.value.error_codes == (90002,)


# -- what to check after an mTLS refusal -------------------------------------------------------


def _refusal(description: str, *codes: int) -> ServiceError:
    return ServiceError(
        status=401, error="invalid_client", error_description=description, error_codes=codes
    )


@pytest.mark.parametrize(
    "refusal",
    [
        _refusal("AADSTS9900002: A TLS client certificate is required …", 9900002),
        _refusal("AADSTS7000999: The client certificate was not provided.", 7000999),
        _refusal("AADSTS7000998: No client certificate in the request.", 7000998),
    ],
    ids=["emulator code", "words: not provided", "words: no client certificate"],
)
def test_a_missing_client_certificate_gets_its_own_hint(refusal: ServiceError) -> None:
    explained = entra.explain_mtls_error(refusal)
    assert explained is not None
    assert "[what to check: the mTLS token endpoint received no TLS client certificate" in str(
        explained
    )
    assert entra.MTLS_INVALID_CLIENT_HINT not in str(explained)


def test_an_unregistered_certificate_keeps_the_generic_invalid_client_hint() -> None:
    refusal = _refusal("AADSTS700027: The TLS client certificate 'x' is not registered.", 700027)
    explained = entra.explain_mtls_error(refusal)
    assert explained is not None
    assert entra.MTLS_INVALID_CLIENT_HINT in str(explained)
    assert entra.MTLS_MISSING_CERTIFICATE_HINT not in str(explained)
