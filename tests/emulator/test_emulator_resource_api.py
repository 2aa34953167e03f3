"""The resource API validates like a resource and fails closed on every binding mismatch."""

from __future__ import annotations

import emulator_testkit as kit
import httpx
import pytest

from identity_web.emulator import Emulator
from identity_web.protocol import BindingCertificate


def _pop_token(emulator: Emulator, credential: BindingCertificate) -> str:
    with kit.client(emulator, credential) as http:
        response = http.post(kit.mtls_url(emulator), data=kit.form(emulator, token_type="mtls_pop"))
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _bearer_token(emulator: Emulator, scope: str | None = None) -> str:
    data = kit.form(emulator, client_secret=emulator.manifest.apps[0].client_secret)
    if scope:
        data["scope"] = scope
    with kit.client(emulator) as http:
        response = http.post(kit.token_url(emulator), data=data)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


def _get(
    emulator: Emulator,
    path: str,
    authorization: str | None,
    credential: BindingCertificate | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if authorization is not None:
        sent["Authorization"] = authorization
    with kit.client(emulator, credential) as http:
        return http.get(emulator.manifest.resource.base_url + path.lstrip("/"), headers=sent)


def _assert_invalid_token(response: httpx.Response, scheme: str, fragment: str) -> None:
    assert response.status_code == 401, response.text
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith(f'{scheme} error="invalid_token", error_description="')
    assert fragment in challenge


def test_bound_token_with_its_certificate_is_accepted_and_whoami_shows_both_thumbprints(
    emulator: Emulator,
) -> None:
    credential = emulator.demo_credential
    token = _pop_token(emulator, credential)
    response = _get(emulator, "/whoami", f"mtls_pop {token}", credential)
    assert response.status_code == 200, response.text
    who = response.json()
    assert who["cnf_x5t_s256"] == who["client_cert_x5t_s256"] == credential.x5t_s256
    assert who["bound"] is True
    assert who["token_type"] == "mtls_pop"
    assert who["appid"] == emulator.demo_app.client_id
    assert who["appidacr"] == "2"


@pytest.mark.parametrize("scheme", ["MTLS_POP", "Mtls_Pop"])
def test_scheme_is_matched_case_insensitively(emulator: Emulator, scheme: str) -> None:
    credential = emulator.demo_credential
    token = _pop_token(emulator, credential)
    assert _get(emulator, "/whoami", f"{scheme} {token}", credential).status_code == 200


def test_bearer_token_is_accepted_with_bearer_scheme(emulator: Emulator) -> None:
    response = _get(emulator, "/whoami", f"bearer {_bearer_token(emulator)}")
    assert response.status_code == 200
    assert response.json()["bound"] is False
    assert response.json()["cnf_x5t_s256"] is None


def test_bound_token_without_client_certificate_is_refused(emulator: Emulator) -> None:
    token = _pop_token(emulator, emulator.demo_credential)
    response = _get(emulator, "/whoami", f"mtls_pop {token}")
    _assert_invalid_token(response, "mtls_pop", "Client certificate required")


def test_bound_token_with_another_certificate_is_refused(emulator: Emulator) -> None:
    token = _pop_token(emulator, emulator.demo_credential)
    renewed = kit.issue(emulator.state.ca, emulator.demo_credential.certificate.subject)
    response = _get(emulator, "/whoami", f"mtls_pop {token}", renewed)
    _assert_invalid_token(response, "mtls_pop", "does not match")


def test_bound_token_with_bearer_scheme_is_refused(emulator: Emulator) -> None:
    credential = emulator.demo_credential
    token = _pop_token(emulator, credential)
    response = _get(emulator, "/whoami", f"Bearer {token}", credential)
    _assert_invalid_token(response, "Bearer", "mtls_pop scheme")


def test_unbound_token_with_mtls_pop_scheme_is_refused(emulator: Emulator) -> None:
    credential = emulator.demo_credential
    response = _get(emulator, "/whoami", f"mtls_pop {_bearer_token(emulator)}", credential)
    _assert_invalid_token(response, "mtls_pop", "not certificate-bound")


def test_missing_or_unknown_authorization_is_refused(emulator: Emulator) -> None:
    _assert_invalid_token(_get(emulator, "/whoami", None), "Bearer", "No Authorization")
    _assert_invalid_token(_get(emulator, "/whoami", "Basic abc"), "Bearer", "Unsupported")


def test_token_for_another_audience_is_refused(emulator: Emulator) -> None:
    token = _bearer_token(emulator, "https://graph.microsoft.com/.default")
    _assert_invalid_token(_get(emulator, "/whoami", f"Bearer {token}"), "Bearer", "audience")


def test_bare_resource_id_audience_is_accepted(emulator: Emulator) -> None:
    resource = emulator.manifest.resource.scope.removesuffix("/.default")
    token = emulator.state.mint_access_token(
        client_id=emulator.demo_app.client_id,
        object_id=emulator.demo_app.object_id,
        audience=resource.removeprefix("api://"),
        appidacr="1",
    )
    assert _get(emulator, "/whoami", f"Bearer {token}").status_code == 200


def test_expired_token_is_refused(emulator: Emulator) -> None:
    token = _bearer_token(emulator)
    emulator.state.clock.shift(emulator.config.token_lifetime + 1)
    _assert_invalid_token(_get(emulator, "/whoami", f"Bearer {token}"), "Bearer", "expired")


def test_not_yet_valid_token_is_refused(emulator: Emulator) -> None:
    emulator.state.clock.shift(600)  # minted 10 minutes in the future
    token = _bearer_token(emulator)
    emulator.state.clock.reset()
    _assert_invalid_token(_get(emulator, "/whoami", f"Bearer {token}"), "Bearer", "not valid yet")


def test_token_from_another_issuer_is_refused(emulator: Emulator) -> None:
    claims = kit.claims_of(_bearer_token(emulator))
    claims["iss"] = "https://sts.windows.net/someone-else/"
    signed = kit.sign(
        {"alg": "RS256", "kid": emulator.state.signing.kid}, claims, emulator.state.signing.key
    )
    _assert_invalid_token(_get(emulator, "/whoami", f"Bearer {signed}"), "Bearer", "issuer")


def test_forged_signature_is_refused(emulator: Emulator) -> None:
    token = _bearer_token(emulator)
    claims = kit.claims_of(token)
    forged = kit.sign({"alg": "RS256", "kid": emulator.state.signing.kid}, claims, kit.new_key())
    _assert_invalid_token(_get(emulator, "/whoami", f"Bearer {forged}"), "Bearer", "signature")


def test_key_vault_route_needs_tokenboundauth_header_for_bound_tokens(emulator: Emulator) -> None:
    credential = emulator.demo_credential
    token = _pop_token(emulator, credential)
    refused = _get(emulator, "/secrets/boundsecret", f"mtls_pop {token}", credential)
    accepted = _get(
        emulator,
        "/secrets/boundsecret/",
        f"mtls_pop {token}",
        credential,
        headers={"x-ms-tokenboundauth": "true"},
    )
    _assert_invalid_token(refused, "mtls_pop", "Client certificate required for using MTLS_POP")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["value"]


def test_key_vault_route_accepts_vault_audience(emulator: Emulator) -> None:
    token = _bearer_token(emulator, "https://vault.azure.net/.default")
    assert _get(emulator, "/secrets/plain", f"Bearer {token}").status_code == 200
    assert _get(emulator, "/whoami", f"Bearer {token}").status_code == 401


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_other_paths_echo_method_path_query_body_and_headers(
    emulator: Emulator, method: str
) -> None:
    token = _bearer_token(emulator)
    with kit.client(emulator) as http:
        response = http.request(
            method,
            emulator.manifest.resource.base_url + "api/items/7",
            params={"filter": "x", "top": "3"},
            json={"name": "widget"} if method != "DELETE" else None,
            headers={"Authorization": f"Bearer {token}", "x-custom": "42"},
        )
    assert response.status_code == 200, response.text
    echo = response.json()
    assert echo["method"] == method
    assert echo["path"] == "/api/items/7"
    assert echo["query"] == {"filter": "x", "top": "3"}
    assert echo["body"] == ({"name": "widget"} if method != "DELETE" else None)
    assert echo["headers"]["x-custom"] == "42"
    assert "authorization" not in echo["headers"]
    assert echo["token"]["appid"] == emulator.demo_app.client_id


def test_echo_requires_the_same_binding_checks(emulator: Emulator) -> None:
    token = _pop_token(emulator, emulator.demo_credential)
    response = _get(emulator, "/anything", f"mtls_pop {token}")
    _assert_invalid_token(response, "mtls_pop", "Client certificate required")


def test_resource_requests_are_logged_without_the_token(emulator: Emulator) -> None:
    token = _bearer_token(emulator)
    _get(emulator, "/whoami", f"Bearer {token}")
    (entry,) = emulator.requests("resource")
    assert entry["headers"]["authorization"] == "Bearer ***"
    assert token not in str(emulator.requests())
