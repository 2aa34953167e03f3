"""Every refusal happens before anything is sent: IDW10116, IDW10115, IDW10404, IDW10405
(common/organizations), http + bound. "Nothing sent" is read from the emulator's request log."""

from __future__ import annotations

import pytest
from e2e_helpers import API, build, certificate_config, secret_config, with_api

from identity_web import InvalidRequestError
from identity_web.emulator import Emulator, EmulatorManifest


def _refused(config: dict[str, object], manifest: EmulatorManifest) -> InvalidRequestError:
    with build(config, manifest) as services, pytest.raises(InvalidRequestError) as raised:
        services.downstream_api.call(API)
    return raised.value


def test_mtls_pop_without_an_app_token_is_idw10116(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP", RequestAppToken=False)
    error = _refused(config, manifest)
    assert error.code == "IDW10116"
    assert "RequestAppToken" in str(error)
    assert emulator.requests() == []


async def test_typed_helpers_force_an_app_token_where_call_does_not(
    manifest: EmulatorManifest,
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP", RequestAppToken=False)
    async with build(config, manifest) as services:
        seen = await services.downstream_api.get_async(API)
    assert seen["scheme"] == "mtls_pop"


def test_mtls_pop_with_a_client_secret_is_idw10115(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    error = _refused(secret_config(manifest, ProtocolScheme="MTLS_POP"), manifest)
    assert error.code == "IDW10115"
    assert manifest.apps[0].client_secret not in str(error)
    assert emulator.requests() == []  # not even the OpenID discovery


def test_the_same_secret_works_for_bearer(manifest: EmulatorManifest) -> None:
    with build(secret_config(manifest), manifest) as services:
        assert services.downstream_api.get(API)["scheme"] == "Bearer"


@pytest.mark.parametrize("scope", ["api://somewhere", "api://somewhere/read"])
def test_app_scope_without_default_suffix_is_idw10404(
    manifest: EmulatorManifest, emulator: Emulator, scope: str
) -> None:
    error = _refused(certificate_config(manifest, Scopes=[scope]), manifest)
    assert error.code == "IDW10404"
    assert scope in str(error)
    assert emulator.requests() == []


@pytest.mark.parametrize("tenant", ["common", "organizations"])
@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_multi_tenant_authorities_are_refused_before_any_network_call(
    manifest: EmulatorManifest, emulator: Emulator, tenant: str, scheme: str
) -> None:
    config = certificate_config(manifest, ProtocolScheme=scheme)
    config["AzureAd"]["TenantId"] = tenant
    error = _refused(config, manifest)
    assert error.code == "IDW10405"
    assert tenant in str(error)
    assert emulator.requests() == []


def test_bound_token_is_never_sent_over_plain_http(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    plain = manifest.resource.base_url.replace("https://", "http://")
    config = with_api(certificate_config(manifest), ProtocolScheme="MTLS_POP", BaseUrl=plain)
    error = _refused(config, manifest)
    assert "plain HTTP" in str(error)
    assert emulator.requests() == []
