"""Bearer and mTLS PoP through DownstreamApi.call("MyApi"), over real TLS to the emulator."""

from __future__ import annotations

from e2e_helpers import API, build, certificate_config, token_requests, with_api

from identity_web.emulator import Emulator, EmulatorManifest


def test_bearer_call_reaches_the_resource_with_an_unbound_token(
    manifest: EmulatorManifest,
) -> None:
    with build(certificate_config(manifest), manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200
    seen = response.json()
    assert response.token_type == "Bearer"
    assert response.binding_certificate is None
    assert seen["scheme"] == "Bearer"
    assert seen["cnf_x5t_s256"] is None
    assert seen["client_cert_x5t_s256"] is None
    assert seen["appid"] == manifest.apps[0].client_id


def test_mtls_pop_call_presents_the_certificate_the_token_is_bound_to(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    with build(config, manifest) as services:
        header = services.authorization_header_provider.create_authorization_header(
            services.downstream_api.options(API)
        )
        response = services.downstream_api.call(API)
    assert header.binding_certificate is not None
    thumbprint = header.binding_certificate.x5t_s256
    assert thumbprint == emulator.demo_credential.x5t_s256
    assert response.status == 200
    seen = response.json()
    assert seen["scheme"] == "mtls_pop"
    assert seen["cnf_x5t_s256"] == thumbprint
    assert seen["client_cert_x5t_s256"] == thumbprint
    assert response.binding_certificate == header.binding_certificate
    assert [e["endpoint"] for e in token_requests(emulator.requests())] == ["entra.mtls_token"]


async def test_both_schemes_async_differ_only_by_protocol_scheme(
    manifest: EmulatorManifest,
) -> None:
    bearer_config = certificate_config(manifest)
    pop_config = with_api(bearer_config, ProtocolScheme="MTLS_POP")
    seen = {}
    for name, config in (("bearer", bearer_config), ("pop", pop_config)):
        async with build(config, manifest) as services:
            response = await services.downstream_api.call_async(API)
        assert response.status == 200
        seen[name] = response.json()
    assert (seen["bearer"]["scheme"], seen["bearer"]["cnf_x5t_s256"]) == ("Bearer", None)
    assert seen["pop"]["scheme"] == "mtls_pop"
    assert seen["pop"]["cnf_x5t_s256"] == seen["pop"]["client_cert_x5t_s256"] is not None
    changed = {
        key
        for key in pop_config[API].keys() | bearer_config[API].keys()
        if pop_config[API].get(key) != bearer_config[API].get(key)
    }
    assert changed == {"ProtocolScheme"}
    assert pop_config["AzureAd"] == bearer_config["AzureAd"]


def test_second_call_uses_the_cached_token(manifest: EmulatorManifest, emulator: Emulator) -> None:
    config = certificate_config(manifest, ProtocolScheme="mtls_pop")
    with build(config, manifest) as services:
        assert services.downstream_api.call(API).status == 200
        assert services.downstream_api.call(API).status == 200
    assert len(token_requests(emulator.requests())) == 1
    assert len(emulator.requests("resource")) == 2
