"""FIC leg 2 against the emulator's federated trust, and when leg 1 runs again, over real TLS.

Trust: the emulator checks the assertion's signature, issuer, audience and subject (the managed
identity's object id) against the app's federated credentials, and for `jwt-pop` its `cnf`
against the TLS client certificate. Leg 1 runs again only when the kept assertion nears its
own expiry, not because the final token is missing from the cache.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import httpx
import pytest
from dependency_injector import providers
from fic_helpers import API, EXCHANGE, fic_config, token_posts

from identity_web import (
    FederatedCredentialError,
    ServiceError,
    ServiceProvider,
    TokenAcquirerFactory,
)
from identity_web.credentials.managed_identity_assertion import DEFAULT_EXPIRY_MARGIN
from identity_web.emulator import Emulator, EmulatorManifest, _jwt
from identity_web.settings import IdentityWebSettings

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OTHER_ISSUER = "https://sts.windows.net/00000000-0000-0000-0000-0000000000ff/"
JSON = {"Content-Type": "application/json"}


class Clock:
    """The library's clock (`IdentityWebContainer.clock`), moved by hand."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def build(
    config: dict[str, Any], manifest: EmulatorManifest, clock: Clock | None = None
) -> ServiceProvider:
    """TokenAcquirerFactory → add_downstream_api → build, on `clock` when given."""
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=manifest.env())
    if clock is not None:
        factory.container.clock.override(providers.Object(clock))
    factory.add_downstream_api(API)
    return factory.build()


def system_identity(emulator: Emulator) -> Any:
    return next(mi for mi in emulator.state.managed_identities if mi.kind == "SystemAssigned")


def leg1_token(emulator: Emulator, **changes: Any) -> str:
    """A genuine-looking leg-1 token of the system-assigned identity (signed by the emulator's
    own key), with some claims changed."""
    state = emulator.state
    identity = system_identity(emulator)
    minted = state.mint_access_token(
        client_id=identity.client_id, object_id=identity.object_id, audience=EXCHANGE, appidacr="2"
    )
    claims = {**_jwt.decode(minted).claims, **changes}
    return _jwt.encode({"kid": state.signing.kid}, claims, state.signing.key)


def imds_v1_answer(access_token: str) -> dict[str, Any]:
    now = int(time.time())
    body = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": "3600",
        "expires_on": str(now + 3600),
        "resource": EXCHANGE,
    }
    return {"status": 200, "body": json.dumps(body), "headers": JSON}


def post_bearer_assertion(emulator: Emulator, assertion: str) -> httpx.Response:
    manifest = emulator.manifest
    form = {
        "grant_type": "client_credentials",
        "client_id": manifest.apps[0].client_id,
        "scope": manifest.resource.scope,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }
    context = ssl.create_default_context(cafile=manifest.ca_bundle)
    with httpx.Client(verify=context, timeout=10) as http:
        return http.post(emulator.state.token_endpoint, data=form)


def assert_entra_error(response: httpx.Response, code: int, *fragments: str) -> None:
    """Entra's error shape (wire-protocol.md §1.5) with this AADSTS code."""
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["error"] == "invalid_request"
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: No matching federated identity")
    for name in ("timestamp", "trace_id", "correlation_id"):
        assert body[name]
    for fragment in fragments:
        assert fragment in body["error_description"]


# -- the emulator's trust checks, on the wire --------------------------------------------------


def test_the_genuine_leg1_token_is_accepted(emulator: Emulator) -> None:
    response = post_bearer_assertion(emulator, leg1_token(emulator))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("changes", "code", "named"),
    [
        ({"iss": OTHER_ISSUER}, 700211, f"issuer '{OTHER_ISSUER}'"),
        ({"aud": "api://SomethingElse"}, 700212, "audience 'api://SomethingElse'"),
        ({"sub": "00000000-0000-0000-0000-0000000000ab"}, 700213, "subject '00000000-"),
    ],
    ids=["wrong-issuer", "wrong-audience", "untrusted-subject"],
)
def test_each_trust_mismatch_answers_its_aadsts_code(
    emulator: Emulator, changes: dict[str, str], code: int, named: str
) -> None:
    response = post_bearer_assertion(emulator, leg1_token(emulator, **changes))
    assert_entra_error(response, code, named)


def test_the_subject_is_checked_not_only_the_app_id(emulator: Emulator) -> None:
    """appid of a trusted identity does not help when `sub` is not that identity's object id."""
    user = next(mi for mi in emulator.state.managed_identities if mi.kind == "UserAssigned")
    emulator.demo_app.federated_managed_identities.remove(user.client_id)
    try:
        response = post_bearer_assertion(emulator, leg1_token(emulator, sub=user.object_id))
    finally:
        emulator.demo_app.federated_managed_identities.append(user.client_id)
    assert_entra_error(response, 700213, f"subject '{user.object_id}'")


# -- the same refusals through TokenAcquirerFactory → DownstreamApi ------------------------


def test_a_leg1_token_from_another_issuer_is_refused_naming_that_issuer(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    emulator.inject_faults("imds.token", [imds_v1_answer(leg1_token(emulator, iss=OTHER_ISSUER))])
    config = fic_config(manifest, scheme="Bearer")
    with build(config, manifest) as services, pytest.raises(FederatedCredentialError) as caught:
        services.downstream_api.call(API)
    error = caught.value
    identity = system_identity(emulator)
    assert error.error_codes == (700211,)
    assert (error.issuer, error.subject, error.audience) == (
        OTHER_ISSUER,
        identity.object_id,
        EXCHANGE,
    )
    message = str(error)
    assert f"issuer '{OTHER_ISSUER}'" in message
    assert f"subject '{identity.object_id}'" in message
    assert f"audience '{EXCHANGE}'" in message
    assert "eyJ" not in message
    assert emulator.requests("resource") == []


def test_a_jwt_pop_assertion_bound_to_another_certificate_is_refused_at_leg_2(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    """Leg 1 answers an mtls_pop token whose cnf is not the IMDS certificate: leg 2 goes out with
    the IMDS certificate, the emulator compares it with cnf and refuses (`invalid_client`); the
    one renewal (a new certificate, leg 1 again, forged again) is refused too; nothing reaches
    the API."""
    other = emulator.demo_credential.x5t_s256
    forged = leg1_token(emulator, cnf={"x5t#S256": other}, xms_tbflags=2)
    body = {"token_type": "mtls_pop", "access_token": forged, "expires_in": 3600}
    leg1_forged = {"status": 200, "body": body, "headers": JSON}
    emulator.inject_faults("entra.mtls_token", [leg1_forged, {"status": None}] * 2)
    with build(fic_config(manifest), manifest) as services, pytest.raises(ServiceError) as caught:
        services.downstream_api.call(API)
    assert not isinstance(caught.value, FederatedCredentialError)
    assert caught.value.error_codes == (9900004,)
    assert other in str(caught.value)
    posts = emulator.requests("entra.mtls_token")
    assert len(posts) == 4
    for leg1, leg2 in (posts[:2], posts[2:]):
        assert leg2["form"]["client_id"] == manifest.apps[0].client_id
        assert leg2["client_cert_x5t_s256"] == leg1["client_cert_x5t_s256"] != other
        assert leg2["status"] == 401
    assert len(emulator.requests("imds.issuecredential")) == 2
    assert emulator.requests("resource") == []


# -- when leg 1 runs ---------------------------------------------------------------------------


def leg1_count(emulator: Emulator, manifest: EmulatorManifest, scheme: str) -> int:
    if scheme == "Bearer":
        return len(emulator.requests("imds.token"))
    app = manifest.apps[0].client_id
    return sum(p["form"]["client_id"] != app for p in token_posts(emulator.requests()))


def leg2_count(emulator: Emulator, manifest: EmulatorManifest) -> int:
    app = manifest.apps[0].client_id
    return sum(p["form"]["client_id"] == app for p in token_posts(emulator.requests()))


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_leg1_runs_again_only_when_the_assertion_nears_its_own_expiry(
    emulator: Emulator, manifest: EmulatorManifest, scheme: str
) -> None:
    clock = Clock()
    with build(fic_config(manifest, scheme=scheme), manifest, clock) as services:
        assert services.downstream_api.call(API).status == 200
        assert (leg1_count(emulator, manifest, scheme), leg2_count(emulator, manifest)) == (1, 1)
        assertion_expiry = clock.now + emulator.config.managed_identity_token_lifetime

        # the app token has expired (a cache miss), the assertion is still fresh: leg 2 only
        app_token_lifetime = emulator.config.token_lifetime
        clock.now = assertion_expiry - DEFAULT_EXPIRY_MARGIN - app_token_lifetime - 60
        assert services.downstream_api.call(API).status == 200
        assert (leg1_count(emulator, manifest, scheme), leg2_count(emulator, manifest)) == (1, 2)

        # that app token has expired too, and the assertion is now within its margin: the
        # next token request runs leg 1 again
        clock.now = assertion_expiry - DEFAULT_EXPIRY_MARGIN + 60
        response = services.downstream_api.call(API)
        assert response.status == 200
        assert (leg1_count(emulator, manifest, scheme), leg2_count(emulator, manifest)) == (2, 3)
        assert response.json()["appid"] == manifest.apps[0].client_id
