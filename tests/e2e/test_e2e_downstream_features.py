"""DownstreamApi against the emulator's resource: overrides, headers, Key Vault opt-in, errors,
claims challenges."""

from __future__ import annotations

import base64
import json

import pytest
from e2e_helpers import API, build, certificate_config, token_requests

from identity_web import DownstreamApiError
from identity_web.emulator import Emulator, EmulatorManifest


def test_overrides_apply_to_one_call_and_never_change_the_configured_options(
    manifest: EmulatorManifest,
) -> None:
    config = certificate_config(
        manifest,
        ExtraHeaderParameters={"X-Configured": "c", "X-Replaced": "old"},
        ExtraQueryParameters={"configured": "1"},
    )
    with build(config, manifest) as services:
        api = services.downstream_api
        before = api.options(API).model_dump()
        echoed = api.call(
            API,
            overrides={
                "RelativePath": "echo/items",
                "HttpMethod": "PUT",
                "ExtraHeaderParameters": {"x-replaced": "new", "X-Added": "a"},
                "ExtraQueryParameters": {"added": "2 3"},
            },
            json={"n": 1},
        ).json()
        assert api.options(API).model_dump() == before
        plain = api.call(API)
    assert (echoed["method"], echoed["path"]) == ("PUT", "/echo/items")
    assert echoed["query"] == {"configured": "1", "added": "2 3"}
    assert echoed["headers"]["x-configured"] == "c"
    assert echoed["headers"]["x-replaced"] == "new"
    assert echoed["headers"]["x-added"] == "a"
    assert echoed["body"] == {"n": 1}
    assert plain.status == 200
    assert "cnf_x5t_s256" in plain.json()


def test_reserved_headers_never_reach_the_resource(manifest: EmulatorManifest) -> None:
    reserved = {
        "Cookie": "session=1",
        "X-Forwarded-For": "10.1.1.1",
        "X-MS-CLIENT-PRINCIPAL-NAME": "admin",
        "X-MS-TOKEN-AAD-ACCESS-TOKEN": "forged",
        "X-Original-URL": "/admin",
        "Authorization": "Bearer forged",
    }
    config = certificate_config(
        manifest, RelativePath="echo", ExtraHeaderParameters={**reserved, "X-Allowed": "yes"}
    )
    with build(config, manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200
    headers = response.json()["headers"]
    assert headers["x-allowed"] == "yes"
    assert not {name.lower() for name in reserved} & set(headers)
    assert response.json()["token"]["appid"] == manifest.apps[0].client_id


@pytest.mark.parametrize(("opt_in", "status"), [(True, 200), (False, 401)])
def test_key_vault_opt_in_header_passes_through_to_secrets(
    manifest: EmulatorManifest, opt_in: bool, status: int
) -> None:
    extra = {"x-ms-tokenboundauth": "true"} if opt_in else {}
    config = certificate_config(
        manifest,
        ProtocolScheme="MTLS_POP",
        RelativePath="secrets/boundsecret",
        ExtraQueryParameters={"api-version": "7.4"},
        ExtraHeaderParameters=extra,
    )
    with build(config, manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == status
    if opt_in:
        assert response.json()["value"] == "emulated-secret-value-of-boundsecret"
    else:
        assert "Client certificate required" in response.text


def test_error_helper_raises_with_status_headers_and_a_bounded_body(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    body = json.dumps({"error": {"code": "Boom", "message": "y" * 10_000}})
    emulator.inject_faults(
        "resource", [{"status": 500, "headers": {"x-request-id": "r-1"}, "body": body}] * 2
    )
    with build(certificate_config(manifest), manifest) as services:
        assert services.downstream_api.call(API).status == 500
        with pytest.raises(DownstreamApiError) as raised:
            services.downstream_api.post(API, json={"once": True})
    error = raised.value
    assert error.status == 500
    assert error.headers["x-request-id"] == "r-1"
    assert error.body.startswith('{"error": {"code": "Boom"')
    assert error.body.endswith("... (truncated)")
    assert len(error.body) <= 4096 + len("... (truncated)")
    assert error.url.endswith("/whoami")
    assert len(emulator.requests("resource")) == 2  # the POST was not retried


def test_claims_challenge_gets_a_new_token_and_one_retry(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    claims = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
    challenge = (
        'Bearer realm="", error="insufficient_claims", '
        f'claims="{base64.b64encode(claims.encode()).decode()}"'
    )
    fault = {"status": 401, "headers": {"WWW-Authenticate": challenge}, "body": ""}
    emulator.inject_faults("resource", [fault])
    with build(certificate_config(manifest, ProtocolScheme="MTLS_POP"), manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200
    tokens = token_requests(emulator.requests())
    assert len(tokens) == 2
    assert "claims" not in tokens[0]["form"]
    assert json.loads(tokens[1]["form"]["claims"]) == json.loads(claims)
    assert len(emulator.requests("resource")) == 2


def test_a_second_claims_challenge_is_returned_not_retried(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    claims = base64.b64encode(b'{"access_token":{}}').decode()
    fault = {"status": 401, "headers": {"WWW-Authenticate": f'Bearer claims="{claims}"'}}
    emulator.inject_faults("resource", [fault, fault, fault])
    with build(certificate_config(manifest), manifest) as services:
        assert services.downstream_api.call(API).status == 401
    assert len(emulator.requests("resource")) == 2
