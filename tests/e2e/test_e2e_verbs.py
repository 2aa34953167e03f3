"""Every typed DownstreamApi helper, sync and async, over real TLS with a bound token; the
pooled mTLS client of the binding certificate carrying both the token request and the calls;
ForceRefresh from the settings."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from e2e_helpers import API, build, certificate_config, token_requests

from identity_web.emulator import Emulator, EmulatorManifest

VERBS = ("get", "post", "put", "patch", "delete")
ACCEPT = "application/json; odata=nometadata"
CONTENT_TYPE = "application/merge-patch+json"


def _echo_config(manifest: EmulatorManifest) -> dict[str, Any]:
    return certificate_config(
        manifest,
        ProtocolScheme="MTLS_POP",
        RelativePath="echo/items",
        AcceptHeader=ACCEPT,
        ContentType=CONTENT_TYPE,
        ExtraQueryParameters={"api-version": "1.0"},
    )


def _check_echo(echoed: Any, method: str, thumbprint: str) -> None:
    assert echoed["method"] == method
    assert echoed["path"] == "/echo/items"
    assert echoed["query"] == {"api-version": "1.0"}
    assert echoed["headers"]["accept"] == ACCEPT
    if method != "GET":
        assert echoed["headers"]["content-type"] == CONTENT_TYPE
        assert echoed["body"] == {"verb": method}
    token = echoed["token"]
    assert token["scheme"] == "mtls_pop"
    assert token["cnf_x5t_s256"] == token["client_cert_x5t_s256"] == thumbprint


def test_every_typed_helper_sends_its_verb_with_a_bound_token(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    thumbprint = emulator.demo_credential.x5t_s256
    with build(_echo_config(manifest), manifest) as services:
        api = services.downstream_api
        configured = api.options(API)
        before = configured.model_dump()
        for verb in VERBS:
            helper = getattr(api, verb)
            method = verb.upper()
            echoed = helper(API) if verb == "get" else helper(API, json={"verb": method})
            _check_echo(echoed, method, thumbprint)
        assert api.options(API) is configured
        assert configured.model_dump() == before
    assert len(token_requests(emulator.requests())) == 1
    assert [e["method"] for e in emulator.requests("resource")] == [v.upper() for v in VERBS]


async def test_every_async_typed_helper_sends_its_verb_with_a_bound_token(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    thumbprint = emulator.demo_credential.x5t_s256
    async with build(_echo_config(manifest), manifest) as services:
        api = services.downstream_api
        for verb in VERBS:
            helper = getattr(api, f"{verb}_async")
            method = verb.upper()
            echoed = await (helper(API) if verb == "get" else helper(API, json={"verb": method}))
            _check_echo(echoed, method, thumbprint)
    assert len(token_requests(emulator.requests())) == 1
    assert [e["method"] for e in emulator.requests("resource")] == [v.upper() for v in VERBS]


@pytest.fixture
def created_clients(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the httpx.Client objects the transport creates."""
    created: list[int] = []
    real = httpx.Client

    class CountingClient(real):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            created.append(1)
            super().__init__(**kwargs)

    monkeypatch.setattr(httpx, "Client", CountingClient)
    return created


def test_bound_calls_go_through_the_pooled_client_of_the_certificate(
    manifest: EmulatorManifest, emulator: Emulator, created_clients: list[int]
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    with build(config, manifest) as services:
        responses = [services.downstream_api.call(API) for _ in range(3)]
        binding = responses[0].binding_certificate
        assert binding is not None
        # one client without certificate (OpenID discovery), one for the mTLS token request and
        # one for the API calls with the binding certificate: all three calls shared the last.
        assert len(created_clients) == 3
        pooled = services.container.transport().client_for(binding)
        assert len(created_clients) == 3
        assert not pooled.is_closed
    assert pooled.is_closed  # closed with the services
    assert {r.binding_certificate for r in responses} == {binding}
    seen = [e["client_cert_x5t_s256"] for e in emulator.requests("resource")]
    assert seen == [binding.x5t_s256] * 3
    assert [e["client_cert_x5t_s256"] for e in token_requests(emulator.requests())] == [
        binding.x5t_s256
    ]


def test_force_refresh_in_the_settings_skips_the_cache_on_every_call(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = certificate_config(
        manifest, ProtocolScheme="MTLS_POP", AcquireTokenOptions={"ForceRefresh": True}
    )
    with build(config, manifest) as services:
        first = services.downstream_api.call(API)
        second = services.downstream_api.call(API)
    assert (first.status, second.status) == (200, 200)
    assert [e["endpoint"] for e in token_requests(emulator.requests())] == ["entra.mtls_token"] * 2
