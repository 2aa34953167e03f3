"""Managed identity through the public API: settings → TokenAcquirerFactory → DownstreamApi.

Configuration is written as a user would (`AcquireTokenOptions.ManagedIdentity`); the
emulator's IMDS is found through `AZURE_POD_IDENTITY_AUTHORITY_HOST` in the environment the
factory is given, and the emulator's resource API reports the token and certificate it saw.
"""

from __future__ import annotations

from typing import Any

import pytest

from identity_web import ManagedIdentityError, TokenAcquirerFactory
from identity_web.settings import IdentityWebSettings

API = "MyApi"


def config(manifest: Any, managed_identity: dict[str, str], **api: Any) -> dict[str, Any]:
    return {
        "AzureAd": {},
        API: {
            "BaseUrl": manifest.resource.base_url,
            "RelativePath": "whoami",
            "Scopes": [manifest.resource.scope],
            "RequestAppToken": True,
            "AcquireTokenOptions": {"ManagedIdentity": managed_identity},
            **api,
        },
    }


def build(settings: dict[str, Any], environ: dict[str, str]) -> Any:
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(settings), environ=environ)
    factory.add_downstream_api(API)
    return factory.build()


@pytest.fixture
def environ(emulator: Any) -> dict[str, str]:
    return dict(emulator.manifest.env())


def test_system_assigned_bearer_call(emulator: Any, environ: dict[str, str]) -> None:
    with build(config(emulator.manifest, {}), environ) as services:
        first = services.downstream_api.call(API)
        second = services.downstream_api.call(API)
    assert first.status == 200
    seen = first.json()
    assert seen["scheme"] == "Bearer"
    assert seen["cnf_x5t_s256"] is None
    assert seen["appid"] == emulator.state.find_managed_identity().client_id
    assert second.status == 200
    assert len(emulator.requests("imds.token")) == 1  # the second call used the token cache


def test_system_assigned_mtls_pop_call(emulator: Any, environ: dict[str, str]) -> None:
    settings = config(emulator.manifest, {}, ProtocolScheme="MTLS_POP")
    with build(settings, environ) as services:
        response = services.downstream_api.call(API)
        again = services.downstream_api.call(API)
    assert response.status == 200
    seen = response.json()
    assert seen["scheme"] == "mtls_pop"
    assert response.binding_certificate is not None
    assert (
        seen["cnf_x5t_s256"]
        == seen["client_cert_x5t_s256"]
        == response.binding_certificate.x5t_s256
    )
    assert emulator.state.imds_issuer.issued(response.binding_certificate.certificate)
    assert again.status == 200
    assert len(emulator.requests("imds.issuecredential")) == 1
    assert len(emulator.requests("entra.mtls_token")) == 1  # second call: cached bound token


@pytest.mark.parametrize(
    "key", ["UserAssignedClientId", "UserAssignedObjectId", "UserAssignedResourceId"]
)
@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_user_assigned_calls(emulator: Any, environ: dict[str, str], key: str, scheme: str) -> None:
    user = next(mi for mi in emulator.state.managed_identities if mi.kind == "UserAssigned")
    value = {
        "UserAssignedClientId": user.client_id,
        "UserAssignedObjectId": user.object_id,
        "UserAssignedResourceId": user.resource_id,
    }[key]
    with build(config(emulator.manifest, {key: value}, ProtocolScheme=scheme), environ) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200
    assert response.json()["appid"] == user.client_id
    assert response.json()["scheme"] == ("mtls_pop" if scheme == "MTLS_POP" else "Bearer")


async def test_mtls_pop_call_async(emulator: Any, environ: dict[str, str]) -> None:
    settings = config(emulator.manifest, {}, ProtocolScheme="MTLS_POP")
    async with build(settings, environ) as services:
        response = await services.downstream_api.call_async(API)
    assert response.status == 200
    assert response.json()["cnf_x5t_s256"] == response.binding_certificate.x5t_s256


def test_transient_imds_failure_is_retried_by_the_whole_stack(
    emulator: Any, environ: dict[str, str]
) -> None:
    emulator.inject_faults("imds.token", [{"status": 500}])  # one retry, 1 s real delay
    with build(config(emulator.manifest, {}), environ) as services:
        assert services.downstream_api.call(API).status == 200
    assert [e["status"] for e in emulator.requests("imds.token")] == [500, 200]


def test_user_assigned_on_arc_is_refused_through_the_stack(
    emulator: Any, environ: dict[str, str]
) -> None:
    arc = {**environ, **emulator.hosting_environment("arc")}
    user = next(mi for mi in emulator.state.managed_identities if mi.kind == "UserAssigned")
    settings = config(emulator.manifest, {"UserAssignedClientId": user.client_id})
    with build(settings, arc) as services, pytest.raises(ManagedIdentityError, match="AzureArc"):
        services.downstream_api.call(API)
    assert emulator.requests("arc.token") == []
