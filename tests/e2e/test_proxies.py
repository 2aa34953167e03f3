"""Proxies: managed identity traffic (IMDS, hosting endpoints) never goes through one, so a dead
proxy in HTTP_PROXY / HTTPS_PROXY / ALL_PROXY does not matter to it; Entra traffic honours the
proxy variables and NO_PROXY as httpx users expect.

As in production, there is no resolver seam here (the emulator is addressed by its loopback
URLs): with IDENTITY_WEB_CONNECT_TO set, the routed clients do not apply proxy variables."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_helpers import API, certificate_config

from identity_web import NetworkError, ServiceProvider, TokenAcquirerFactory, TokenRequestOptions
from identity_web.emulator import Emulator
from identity_web.settings import IdentityWebSettings, ManagedIdentityOptions

DEAD_PROXY = "http://127.0.0.1:9"


def without_seam(emulator: Emulator) -> dict[str, str]:
    environ = emulator.manifest.env()
    del environ["IDENTITY_WEB_CONNECT_TO"]
    return environ


def build(emulator: Emulator, config: dict[str, Any]) -> ServiceProvider:
    factory = TokenAcquirerFactory(
        IdentityWebSettings.from_mapping(config), environ=without_seam(emulator)
    )
    factory.add_downstream_api(API)
    return factory.build()


@pytest.fixture
def dead_proxy(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        monkeypatch.setenv(name, DEAD_PROXY)
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_managed_identity_ignores_a_dead_proxy(
    emulator: Emulator, dead_proxy: pytest.MonkeyPatch
) -> None:
    manifest = emulator.manifest
    options = TokenRequestOptions(managed_identity=ManagedIdentityOptions())
    with build(emulator, certificate_config(manifest)) as services:
        result = services.token_acquirer.acquire_token_for_app(manifest.resource.scope, options)
    assert result.token_type == "Bearer"
    assert [e["status"] for e in emulator.requests("imds.token")] == [200]


def test_imds_v2_goes_direct_and_its_entra_leg_through_the_proxy(
    emulator: Emulator, dead_proxy: pytest.MonkeyPatch
) -> None:
    """IMDS v2 answers directly; the mTLS token leg (an Entra host) takes the dead proxy."""
    # no attestation: the attestation authority is an Azure service, reached through the proxy
    emulator.set_attestation_mode("optional")
    manifest = emulator.manifest
    config = certificate_config(manifest)
    config["AzureAd"]["ManagedIdentity"] = {"Attestation": "None"}
    options = TokenRequestOptions(managed_identity=ManagedIdentityOptions())
    with build(emulator, config) as services, pytest.raises(NetworkError):
        services.token_acquirer.acquire_token_for_app(manifest.resource.scope, options, bound=True)
    assert [e["status"] for e in emulator.requests("imds.issuecredential")] == [200, 200]
    assert emulator.requests("entra.mtls_token") == []


def test_entra_traffic_goes_through_the_proxy(
    emulator: Emulator, dead_proxy: pytest.MonkeyPatch
) -> None:
    manifest = emulator.manifest
    with build(emulator, certificate_config(manifest)) as services, pytest.raises(NetworkError):
        services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
    assert emulator.requests("entra.token") == []  # it went to the (dead) proxy


def test_no_proxy_exempts_a_host(emulator: Emulator, dead_proxy: pytest.MonkeyPatch) -> None:
    dead_proxy.setenv("NO_PROXY", "127.0.0.1")
    manifest = emulator.manifest
    with build(emulator, certificate_config(manifest)) as services:
        result = services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
    assert result.token_type == "Bearer"
    assert len(emulator.requests("entra.token")) == 1
