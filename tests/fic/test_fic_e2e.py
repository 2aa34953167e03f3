"""FIC with a managed identity, Bearer and mTLS PoP, from settings to the resource, against the
emulator over real TLS (TokenAcquirerFactory → DownstreamApi.call)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from dependency_injector import providers
from fic_helpers import API, EXCHANGE, build, fic_config, token_posts

from identity_web import (
    FederatedCredentialError,
    TokenAcquirerFactory,
    TokenSource,
    TokenTypeMismatchError,
)
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.emulator._directory import AppRegistration
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.settings import IdentityWebSettings
from identity_web.transport import HttpTransport

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_POP = "urn:ietf:params:oauth:client-assertion-type:jwt-pop"


def user_assigned(manifest: EmulatorManifest) -> str:
    return next(mi.client_id for mi in manifest.managed_identities if mi.kind == "UserAssigned")


def system_assigned(emulator: Emulator) -> Any:
    return next(mi for mi in emulator.state.managed_identities if mi.kind == "SystemAssigned")


def legs(emulator: Emulator, manifest: EmulatorManifest) -> tuple[list[Any], list[Any]]:
    """(leg-1 token posts by a managed identity, leg-2 token posts by the app)."""
    posts = token_posts(emulator.requests())
    app = manifest.apps[0].client_id
    return [p for p in posts if p["form"]["client_id"] != app], [
        p for p in posts if p["form"]["client_id"] == app
    ]


def test_mtls_pop_two_legs_bind_the_app_token_to_the_managed_identity_certificate(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    uami = user_assigned(manifest)
    with build(fic_config(manifest, managed_identity_client_id=uami), manifest) as services:
        response = services.downstream_api.call(API)
        assert response.status == 200, response.text
        assert response.token_type == "mtls_pop"
        binding = response.binding_certificate
        assert binding is not None
        seen = response.json()
        assert seen["cnf_x5t_s256"] == seen["client_cert_x5t_s256"] == binding.x5t_s256
        assert seen["appid"] == manifest.apps[0].client_id

        (leg1,), (leg2,) = legs(emulator, manifest)
        assert leg1["endpoint"] == "entra.mtls_token"  # the IMDS v2 token leg
        assert leg1["form"]["client_id"] == uami
        assert leg1["form"]["scope"] == f"{EXCHANGE}/.default"
        assert leg1["form"]["token_type"] == "mtls_pop"
        assert leg1["client_cert_x5t_s256"] == binding.x5t_s256
        assert leg2["endpoint"] == "entra.mtls_token"
        assert leg2["client_cert_x5t_s256"] == binding.x5t_s256
        assert leg2["form"]["client_assertion_type"] == JWT_POP
        assert leg2["form"]["client_assertion"] == "***"  # present (masked by the log)
        assert leg2["form"]["token_type"] == "mtls_pop"
        assert leg2["form"]["scope"] == manifest.resource.scope
        assert emulator.requests("imds.issuecredential")[0]["query"]["client_id"] == uami

        # second call: a cache hit, same certificate, nothing sent to any token endpoint
        emulator.clear_requests()
        again = services.downstream_api.call(API)
        assert again.status == 200
        assert again.binding_certificate is not None
        assert again.binding_certificate.x5t_s256 == binding.x5t_s256
        assert token_posts(emulator.requests()) == []
        cached = services.token_acquirer.acquire_token_for_app(manifest.resource.scope, bound=True)
        assert cached.token_source is TokenSource.CACHE
        assert cached.binding_certificate == binding


def test_bearer_redeems_the_managed_identity_token_at_the_login_host_without_certificate(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    uami = user_assigned(manifest)
    config = fic_config(manifest, scheme="Bearer", managed_identity_client_id=uami)
    with build(config, manifest) as services:
        response = services.downstream_api.call(API)
        result = services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
    assert response.status == 200, response.text
    assert response.token_type == "Bearer"
    assert response.binding_certificate is None
    assert result.binding_certificate is None
    assert result.token_source is TokenSource.CACHE
    assert response.json()["bound"] is False
    assert response.json()["appid"] == manifest.apps[0].client_id
    (leg1,) = emulator.requests("imds.token")  # the loader's warm-up is leg 1's token
    assert leg1["query"]["resource"] == EXCHANGE
    assert leg1["query"]["client_id"] == uami
    (leg2,) = token_posts(emulator.requests())
    assert leg2["endpoint"] == "entra.token"
    assert leg2["client_cert_x5t_s256"] is None
    assert leg2["form"]["client_assertion_type"] == JWT_BEARER
    assert "token_type" not in leg2["form"]
    assert emulator.requests("imds.getplatformmetadata") == []


@pytest.mark.parametrize(("scheme", "token_type"), [("Bearer", "Bearer"), ("MTLS_POP", "mtls_pop")])
async def test_both_schemes_async_with_the_system_assigned_identity(
    emulator: Emulator, manifest: EmulatorManifest, scheme: str, token_type: str
) -> None:
    async with build(fic_config(manifest, scheme=scheme), manifest) as services:
        response = await services.downstream_api.call_async(API)
    assert response.status == 200, response.text
    assert response.token_type == token_type
    seen = response.json()
    assert seen["appid"] == manifest.apps[0].client_id
    binding = response.binding_certificate
    assert seen["cnf_x5t_s256"] == (binding.x5t_s256 if binding is not None else None)
    system = system_assigned(emulator)
    assert {e["query"].get("client_id") for e in emulator.requests("imds.token")} == {None}
    leg1s, _ = legs(emulator, manifest)
    assert all(post["form"]["client_id"] == system.client_id for post in leg1s)


def test_swapping_source_type_is_the_only_change_between_certificate_and_fic(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    app = manifest.apps[0]
    config = fic_config(
        manifest,
        managed_identity_client_id=user_assigned(manifest),
        CertificateDiskPath=app.certificate_pfx_path,
        CertificatePassword=app.certificate_pfx_password,
    )
    thumbprints = {}
    for source_type in ("Path", "SignedAssertionFromManagedIdentity"):
        changed = copy.deepcopy(config)
        changed["AzureAd"]["ClientCredentials"][0]["SourceType"] = source_type
        with build(changed, manifest) as services:
            response = services.downstream_api.call(API)
        assert response.status == 200, response.text
        assert response.token_type == "mtls_pop"
        assert response.binding_certificate is not None
        assert response.json()["cnf_x5t_s256"] == response.binding_certificate.x5t_s256
        thumbprints[source_type] = response.binding_certificate.x5t_s256
    assert thumbprints["Path"] == emulator.demo_credential.x5t_s256
    assert thumbprints["SignedAssertionFromManagedIdentity"] != thumbprints["Path"]


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_an_app_that_does_not_trust_the_managed_identity_gets_a_clear_error(
    emulator: Emulator, manifest: EmulatorManifest, untrusting_app: AppRegistration, scheme: str
) -> None:
    config = fic_config(manifest, scheme=scheme)
    config["AzureAd"]["ClientId"] = untrusting_app.client_id
    with build(config, manifest) as services, pytest.raises(FederatedCredentialError) as caught:
        services.downstream_api.call(API)
    error = caught.value
    system = system_assigned(emulator)
    assert error.error_codes == (700213,)
    assert (error.issuer, error.subject, error.audience) == (
        emulator.state.issuer,
        system.object_id,
        EXCHANGE,
    )
    message = str(error)
    assert "AADSTS700213" in message
    assert f"issuer '{emulator.state.issuer}'" in message
    assert f"subject '{system.object_id}'" in message
    assert f"audience '{EXCHANGE}'" in message
    assert untrusting_app.client_id in message
    assert "eyJ" not in message
    assert emulator.requests("resource") == []


def test_an_assertion_for_another_audience_is_refused_naming_that_audience(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    config = fic_config(manifest, TokenExchangeUrl="https://graph.microsoft.com/")
    with build(config, manifest) as services, pytest.raises(FederatedCredentialError) as caught:
        services.downstream_api.call(API)
    assert caught.value.error_codes == (700212,)
    assert "audience 'https://graph.microsoft.com'" in str(caught.value)
    leg1s, _ = legs(emulator, manifest)
    assert leg1s[0]["form"]["scope"] == "https://graph.microsoft.com/.default"


def test_token_exchange_url_with_a_trailing_slash_asks_for_url_slash_default(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    config = fic_config(manifest, TokenExchangeUrl="api://AzureADTokenExchange/")
    with build(config, manifest) as services:
        assert services.downstream_api.call(API).status == 200
    assert emulator.requests("imds.token")[0]["query"]["resource"] == EXCHANGE
    leg1s, _ = legs(emulator, manifest)
    assert [post["form"]["scope"] for post in leg1s] == ["api://AzureADTokenExchange/.default"]


def test_one_assertion_serves_several_scopes_while_it_is_valid(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    with build(fic_config(manifest), manifest) as services:
        acquirer = services.token_acquirer
        first = acquirer.acquire_token_for_app(manifest.resource.scope, bound=True)
        vault = acquirer.acquire_token_for_app("https://vault.azure.net/.default", bound=True)
    assert first.binding_certificate == vault.binding_certificate
    leg1s, leg2s = legs(emulator, manifest)
    assert len(leg1s) == 1
    assert [post["form"]["scope"] for post in leg2s] == [
        manifest.resource.scope,
        "https://vault.azure.net/.default",
    ]


BEARER_ANSWER = {
    "status": 200,
    "body": json.dumps({"token_type": "Bearer", "access_token": "x.y.z", "expires_in": 3600}),
}


def test_fail_closed_at_leg_1_when_imds_v2_returns_an_unbound_token(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    emulator.inject_faults("entra.mtls_token", [BEARER_ANSWER])
    with build(fic_config(manifest), manifest) as services, pytest.raises(TokenTypeMismatchError):
        services.downstream_api.call(API)
    assert len(emulator.requests("entra.mtls_token")) == 1  # leg 2 never sent
    assert emulator.requests("resource") == []


def test_fail_closed_at_leg_2_and_nothing_is_cached(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    emulator.inject_faults("entra.mtls_token", [{"status": None}, BEARER_ANSWER])
    with build(fic_config(manifest), manifest) as services:
        with pytest.raises(TokenTypeMismatchError):
            services.downstream_api.call(API)
        assert emulator.requests("resource") == []
        response = services.downstream_api.call(API)
    assert response.status == 200
    assert response.token_type == "mtls_pop"
    _, leg2s = legs(emulator, manifest)
    assert len(leg2s) == 2


def test_an_unavailable_managed_identity_falls_through_to_the_next_credential(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    app = manifest.apps[0]
    config = fic_config(manifest, managed_identity_client_id="00000000-0000-0000-0000-0000000000aa")
    config["AzureAd"]["ClientCredentials"].append(
        {
            "SourceType": "Path",
            "CertificateDiskPath": app.certificate_pfx_path,
            "CertificatePassword": app.certificate_pfx_password,
        }
    )
    with build(config, manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200, response.text
    assert response.binding_certificate is not None
    assert response.binding_certificate.x5t_s256 == emulator.demo_credential.x5t_s256
    assert [e["status"] for e in emulator.requests("imds.token")] == [400]


class SpyingTransport(HttpTransport):
    """The real transport, keeping every exchange; swapped in through the container."""

    def __init__(self, *, ca_bundle: str) -> None:
        super().__init__(ca_bundle=ca_bundle)
        self.sent: list[tuple[HttpRequest, HttpResponse]] = []

    def attempt(self, request: HttpRequest) -> HttpResponse:
        response = super().attempt(request)
        self.sent.append((request, response))
        return response


def test_leg_2_sends_exactly_the_leg_1_token_over_the_leg_1_certificate(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    spy = SpyingTransport(ca_bundle=manifest.ca_bundle)
    settings = IdentityWebSettings.from_mapping(fic_config(manifest))
    factory = TokenAcquirerFactory(settings, environ=manifest.env())
    factory.container.transport.override(providers.Object(spy))
    with spy, factory.add_downstream_api(API).build() as services:
        response = services.downstream_api.call(API)
    assert response.status == 200
    tokens = [(q, r) for q, r in spy.sent if q.url.endswith("/oauth2/v2.0/token")]
    (leg1_request, leg1_response), (leg2_request, _) = tokens
    assert leg1_request.form is not None
    assert leg2_request.form is not None
    assert leg2_request.form["client_assertion"] == leg1_response.json()["access_token"]
    assert leg2_request.tls_identity is leg1_request.tls_identity is response.binding_certificate


def test_an_expired_assertion_reloads_the_credential_and_fetches_a_new_one_once(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    expired = {
        "status": 400,
        "body": json.dumps(
            {
                "error": "invalid_client",
                "error_description": "AADSTS700024: Client assertion is not within its valid "
                "time range.",
                "error_codes": [700024],
            }
        ),
    }
    emulator.inject_faults("entra.token", [expired])
    with build(fic_config(manifest, scheme="Bearer"), manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200, response.text
    assert [e["status"] for e in emulator.requests("entra.token")] == [400, 200]
    assert len(emulator.requests("imds.token")) == 2  # the reloaded credential's own leg 1
