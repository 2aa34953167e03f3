"""Every refusal happens before anything is sent: IDW10116, IDW10115, IDW10404, IDW10405
(common/organizations), http + bound. "Nothing sent" is read from the emulator's request log.

What the settings say is refused by `build()` (a ConfigurationError naming the key); what a
per-call override asks for is refused by the call itself, before the network, just the same.
"""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from e2e_helpers import API, build, certificate_config, secret_config, with_api

from identity_web import ConfigurationError, InvalidRequestError
from identity_web.emulator import Emulator, EmulatorManifest


def _refused(
    config: dict[str, object], manifest: EmulatorManifest, overrides: dict[str, Any] | None = None
) -> InvalidRequestError:
    with build(config, manifest) as services, pytest.raises(InvalidRequestError) as raised:
        services.downstream_api.call(API, overrides=overrides)
    return raised.value


def _not_built(config: dict[str, object], manifest: EmulatorManifest) -> dict[str, str]:
    with pytest.raises(ConfigurationError) as raised:
        build(config, manifest)
    return {problem.path: problem.message for problem in raised.value.problems}


def _without_request_app_token(manifest: EmulatorManifest) -> dict[str, Any]:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    del config[API]["RequestAppToken"]
    return config


def test_mtls_pop_without_an_app_token_is_idw10116(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    error = _refused(_without_request_app_token(manifest), manifest)
    assert error.code == "IDW10116"
    assert "RequestAppToken" in str(error)
    assert emulator.requests() == []


def test_request_app_token_false_is_refused_at_build(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP", RequestAppToken=False)
    problems = _not_built(config, manifest)
    assert "user flows are out of scope" in problems[f"{API}.RequestAppToken"]
    assert emulator.requests() == []


async def test_typed_helpers_force_an_app_token_where_call_does_not(
    manifest: EmulatorManifest,
) -> None:
    config = _without_request_app_token(manifest)
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
    problems = _not_built(certificate_config(manifest, Scopes=[scope]), manifest)
    assert problems[f"{API}.Scopes"].startswith("IDW10404")
    assert scope in problems[f"{API}.Scopes"]
    error = _refused(certificate_config(manifest), manifest, {"Scopes": [scope]})
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
    problems = _not_built(config, manifest)
    assert problems["AzureAd.TenantId"].startswith("IDW10405")
    assert tenant in problems["AzureAd.TenantId"]
    per_call = {"AcquireTokenOptions": {"Tenant": tenant}}
    error = _refused(certificate_config(manifest, ProtocolScheme=scheme), manifest, per_call)
    assert error.code == "IDW10405"
    assert tenant in str(error)
    assert emulator.requests() == []


def test_bound_token_is_never_sent_over_plain_http(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    plain = manifest.resource.base_url.replace("https://", "http://")
    config = with_api(certificate_config(manifest), ProtocolScheme="MTLS_POP", BaseUrl=plain)
    assert "MTLS_POP" in _not_built(config, manifest)[f"{API}.BaseUrl"]
    bound = with_api(certificate_config(manifest), ProtocolScheme="MTLS_POP")
    error = _refused(bound, manifest, {"BaseUrl": plain})
    assert "plain HTTP" in str(error)
    assert emulator.requests() == []


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_a_per_call_http_base_url_never_carries_a_token(
    manifest: EmulatorManifest, emulator: Emulator, scheme: str
) -> None:
    """A per-call override cannot send a token of any kind over plain HTTP."""
    config = certificate_config(manifest, ProtocolScheme=scheme)
    error = _refused(config, manifest, {"BaseUrl": "http://api.example/"})
    assert "never sent over plain HTTP" in str(error)
    assert emulator.requests() == []


@pytest.mark.parametrize("scopes", [[], None])
def test_a_per_call_empty_scope_never_makes_an_anonymous_bound_call(
    manifest: EmulatorManifest, emulator: Emulator, scopes: list[str] | None
) -> None:
    """MTLS_POP with the scopes taken away per call is refused, not sent without a token."""
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    with build(config, manifest) as services, pytest.raises(ConfigurationError) as raised:
        services.downstream_api.call(API, overrides={"Scopes": scopes})
    assert [problem.path for problem in raised.value.problems] == [f"{API}.Scopes"]
    assert emulator.requests() == []


def test_bearer_to_loopback_http_needs_the_explicit_opt_in(
    manifest: EmulatorManifest, plain_http_server: PlainHttpServer
) -> None:
    """`AllowHttpToLoopback: true` lets a Bearer token reach a loopback http:// API; without
    it the same call is refused before anything is sent."""
    config = certificate_config(manifest)
    overrides = {"BaseUrl": plain_http_server.url}
    _refused(config, manifest, overrides)
    assert plain_http_server.authorizations == []
    config[API]["AllowHttpToLoopback"] = True
    with build(config, manifest) as services:
        assert services.downstream_api.call(API, overrides=overrides).status == 200
    assert [value.split()[0] for value in plain_http_server.authorizations] == ["Bearer"]


class PlainHttpServer:
    """A plain-HTTP API on loopback that answers 200 and records Authorization headers."""

    def __init__(self) -> None:
        recorded: list[str] = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorded.append(self.headers.get("Authorization", ""))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.authorizations = recorded
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


@pytest.fixture
def plain_http_server() -> Iterator[PlainHttpServer]:
    server = PlainHttpServer()
    yield server
    server.close()
