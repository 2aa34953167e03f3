"""The production host names end to end: settings name Entra's and IMDS's real hosts, the
resolver seam (`IDENTITY_WEB_CONNECT_TO`) connects them to the emulator, TLS is verified against
the emulator's CA under those names, and the emulator's log shows which name each request used."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from e2e_helpers import API, certificate_config, managed_identity_config

from identity_web import InvalidRequestError, TokenAcquirerFactory, TokenRequestOptions
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.resource._keys import OpenIdSigningKeys
from identity_web.settings import IdentityWebSettings
from identity_web.transport import ConnectTo

PUBLIC = "https://login.microsoftonline.com/"
US_GOV = "https://login.microsoftonline.us/"


def production_environ(manifest: EmulatorManifest) -> dict[str, str]:
    """The emulator's env file without the IMDS override: IMDS is 169.254.169.254."""
    environ = manifest.env()
    environ.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    return environ


def call(config: dict[str, Any], manifest: EmulatorManifest) -> Any:
    settings = IdentityWebSettings.from_mapping(config)
    factory = TokenAcquirerFactory(settings, environ=production_environ(manifest))
    factory.add_downstream_api(API)
    with factory.build() as services:
        return services.downstream_api.call(API)


def hosts(emulator: Emulator, endpoint: str) -> list[str]:
    return [entry["headers"]["host"] for entry in emulator.requests(endpoint)]


def with_instance(manifest: EmulatorManifest, instance: str, **extra: Any) -> dict[str, Any]:
    config = certificate_config(manifest, **extra.pop("api", {}))
    config["AzureAd"].update(Instance=instance, **extra)
    return config


def test_bearer_from_login_microsoftonline_com(emulator: Emulator) -> None:
    manifest = emulator.manifest
    response = call(with_instance(manifest, PUBLIC), manifest)
    assert response.status == 200
    assert response.token_type == "Bearer"
    assert hosts(emulator, "entra.token") == ["login.microsoftonline.com"]


def test_mtls_pop_takes_the_static_rule_to_mtlsauth_without_discovery(emulator: Emulator) -> None:
    """login.microsoftonline.com → mtlsauth.microsoft.com by the rule, as MSAL.NET maps it: the
    OpenID configuration (which publishes the same alias) is never asked."""
    manifest = emulator.manifest
    config = with_instance(manifest, PUBLIC, api={"ProtocolScheme": "MTLS_POP"})
    response = call(config, manifest)
    assert response.status == 200
    assert response.token_type == "mtls_pop"
    assert hosts(emulator, "entra.mtls_token") == ["mtlsauth.microsoft.com"]
    assert emulator.requests("entra.openid_configuration") == []
    assert emulator.requests("entra.token") == []
    (entry,) = emulator.requests("entra.mtls_token")
    assert entry["client_cert_x5t_s256"] == response.binding_certificate.x5t_s256


def test_azure_region_westus3_goes_to_the_regional_mtls_host(emulator: Emulator) -> None:
    manifest = emulator.manifest
    config = with_instance(
        manifest, PUBLIC, AzureRegion="westus3", api={"ProtocolScheme": "MTLS_POP"}
    )
    assert call(config, manifest).token_type == "mtls_pop"
    assert hosts(emulator, "entra.mtls_token") == ["westus3.mtlsauth.microsoft.com"]
    assert emulator.requests("entra.openid_configuration") == []


@pytest.mark.parametrize(
    ("scheme", "endpoint", "host"),
    [
        ("Bearer", "entra.token", "login.microsoftonline.us"),
        ("MTLS_POP", "entra.mtls_token", "mtlsauth.microsoftonline.us"),
    ],
)
def test_us_government_login_host_and_its_mtls_host(
    emulator: Emulator, scheme: str, endpoint: str, host: str
) -> None:
    manifest = emulator.manifest
    config = with_instance(manifest, US_GOV, api={"ProtocolScheme": scheme})
    assert call(config, manifest).status == 200
    assert hosts(emulator, endpoint) == [host]
    assert emulator.requests("entra.openid_configuration") == []


def test_deprecated_china_alias_is_refused_for_mtls_before_any_request(emulator: Emulator) -> None:
    manifest = emulator.manifest
    config = with_instance(
        manifest, "https://login.chinacloudapi.cn/", api={"ProtocolScheme": "MTLS_POP"}
    )
    with pytest.raises(InvalidRequestError, match=r"login\.partner\.microsoftonline\.cn"):
        call(config, manifest)
    assert emulator.requests() == []


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_managed_identity_reaches_imds_at_169_254_169_254(emulator: Emulator, scheme: str) -> None:
    manifest = emulator.manifest
    response = call(managed_identity_config(manifest, ProtocolScheme=scheme), manifest)
    assert response.status == 200
    imds = [entry for entry in emulator.requests() if entry["endpoint"].startswith("imds.")]
    assert imds
    assert {entry["headers"]["host"] for entry in imds} == {"169.254.169.254"}
    if scheme == "MTLS_POP":  # the host issuecredential named for the IMDS region
        assert hosts(emulator, "entra.mtls_token") == ["westus3.mtlsauth.microsoft.com"]


def test_the_adapters_clients_honour_the_seam(emulator: Emulator) -> None:
    manifest = emulator.manifest
    config = with_instance(manifest, PUBLIC)
    factory = TokenAcquirerFactory(
        IdentityWebSettings.from_mapping(config), environ=production_environ(manifest)
    )
    factory.add_downstream_api(API)
    url = f"{PUBLIC}{manifest.tenant_id}/v2.0/.well-known/openid-configuration"
    with factory.build() as services:
        with services.http_client(API) as client:
            assert client.get(url).status_code == 200

        async def fetch() -> int:
            async with services.async_http_client(API) as async_client:
                return (await async_client.get(url)).status_code

        assert asyncio.run(fetch()) == 200
    assert hosts(emulator, "entra.openid_configuration") == ["login.microsoftonline.com"] * 2


def test_the_resource_side_fetches_signing_keys_by_the_production_name(
    emulator: Emulator,
) -> None:
    manifest = emulator.manifest
    url = f"{PUBLIC}{manifest.tenant_id}/v2.0/.well-known/openid-configuration"
    connect_to = ConnectTo.from_environ(production_environ(manifest))
    keys = OpenIdSigningKeys(url, ca_bundle=manifest.ca_bundle, connect_to=connect_to)
    assert keys.key(emulator.state.signing.kid) is not None
    assert keys.fetch_count == 1
    assert hosts(emulator, "entra.openid_configuration") == ["login.microsoftonline.com"]
    assert hosts(emulator, "entra.keys") == ["login.microsoftonline.com"]


@pytest.mark.parametrize(
    ("variables", "fault", "host", "asked_imds"),
    [
        ({}, None, "westus3.mtlsauth.microsoft.com", True),
        ({}, 500, "mtlsauth.microsoft.com", True),
        ({"REGION_NAME": "eastus"}, None, "eastus.mtlsauth.microsoft.com", False),
        ({"MSAL_FORCE_REGION": "centralus"}, None, "centralus.mtlsauth.microsoft.com", False),
    ],
    ids=["imds", "imds-fails-global", "region-name", "msal-force-region"],
)
def test_try_auto_detect_finds_the_region_once(
    emulator: Emulator,
    variables: dict[str, str],
    fault: int | None,
    host: str,
    asked_imds: bool,
) -> None:
    """TryAutoDetect: REGION_NAME, then MSAL_FORCE_REGION, then IMDS (one bounded request,
    never repeated), falling back to the global mTLS host."""
    manifest = emulator.manifest
    if fault is not None:
        emulator.inject_faults("imds.compute", [{"status": fault}])
    config = with_instance(
        manifest, PUBLIC, AzureRegion="TryAutoDetect", api={"ProtocolScheme": "MTLS_POP"}
    )
    settings = IdentityWebSettings.from_mapping(config)
    factory = TokenAcquirerFactory(settings, environ={**production_environ(manifest), **variables})
    factory.add_downstream_api(API)
    with factory.build() as services:
        assert services.downstream_api.call(API).status == 200
        forced = services.token_acquirer.acquire_token_for_app(
            manifest.resource.scope, TokenRequestOptions(force_refresh=True), bound=True
        )
    assert forced.token_type == "mtls_pop"
    assert hosts(emulator, "entra.mtls_token") == [host, host]
    assert len(emulator.requests("imds.compute")) == (1 if asked_imds else 0)
