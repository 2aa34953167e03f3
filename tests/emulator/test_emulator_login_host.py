"""The login host: discovery, JWKS and the client-credentials token endpoint over real TLS."""

from __future__ import annotations

import time
import uuid

import emulator_testkit as kit
import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.emulator._validation import JwksValidator


def _post(emulator: Emulator, data: dict[str, str], **kwargs: object) -> httpx.Response:
    with kit.client(emulator) as http:
        return http.post(kit.token_url(emulator), data=data, **kwargs)  # type: ignore[arg-type]


def test_openid_configuration_names_token_jwks_issuer_and_mtls_alias(emulator: Emulator) -> None:
    m = emulator.manifest
    with kit.client(emulator) as http:
        config = http.get(f"{m.instance}{m.tenant_id}/v2.0/.well-known/openid-configuration").json()
        keys = http.get(config["jwks_uri"]).json()
    assert config["token_endpoint"] == kit.token_url(emulator)
    assert config["issuer"] == f"{m.instance}{m.tenant_id}/v2.0"
    assert config["mtls_endpoint_aliases"]["token_endpoint"] == kit.mtls_url(emulator)
    assert config["mtls_endpoint_aliases"]["token_endpoint"].startswith(m.mtls_token_endpoint_base)
    assert [k["kid"] for k in keys["keys"]] == [emulator.state.signing.kid]


def test_openid_configuration_accepts_tenant_domain_and_rejects_unknown_tenant(
    emulator: Emulator,
) -> None:
    m = emulator.manifest
    domain = emulator.state.tenant_domain
    with kit.client(emulator) as http:
        by_domain = http.get(f"{m.instance}{domain}/v2.0/.well-known/openid-configuration")
        unknown = http.get(f"{m.instance}{uuid.uuid4()}/v2.0/.well-known/openid-configuration")
    assert by_domain.json()["token_endpoint"] == kit.token_url(emulator)
    kit.assert_ests_error(unknown, status=400, code=90002, error="invalid_request")


def test_client_secret_yields_bearer_token_with_documented_claims(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    response = _post(emulator, kit.form(emulator, client_secret=app.client_secret))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int)
    assert isinstance(body["ext_expires_in"], int)
    assert "refresh_in" not in body
    claims = JwksValidator(emulator.state.signing.jwks, lambda: emulator.state.issuer).validate(
        body["access_token"],
        audiences=[emulator.manifest.resource.scope[: -len("/.default")]],
        now=time.time(),
    )
    assert claims["appid"] == claims["azp"] == app.client_id
    assert claims["appidacr"] == "1"
    assert claims["idtyp"] == "app"
    assert claims["tid"] == emulator.manifest.tenant_id
    assert claims["oid"] == claims["sub"] == emulator.demo_app.object_id
    assert claims["iss"] == emulator.state.issuer
    assert claims["nbf"] <= claims["iat"] < claims["exp"]
    assert "cnf" not in claims
    assert "xms_tbflags" not in claims


def test_tenant_domain_is_accepted_on_the_token_endpoint(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    with kit.client(emulator) as http:
        response = http.post(
            kit.token_url(emulator, emulator.state.tenant_domain),
            data=kit.form(emulator, client_secret=app.client_secret),
        )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("algorithm", "key_id"), [("RS256", "x5t"), ("PS256", "x5t#S256")])
def test_certificate_assertion_yields_token_with_appidacr_2(
    emulator: Emulator, algorithm: str, key_id: str
) -> None:
    app = emulator.demo_app
    signed = kit.assertion(
        emulator.demo_credential,
        app.client_id,
        kit.token_url(emulator),
        algorithm=algorithm,
        key_id=key_id,
    )
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    assert response.status_code == 200, response.text
    assert kit.claims_of(response.json()["access_token"])["appidacr"] == "2"


def test_x5c_assertion_with_renewed_certificate_authenticates_by_subject_and_issuer(
    emulator: Emulator,
) -> None:
    """SN/I: a new certificate (new key) with the registered subject, from the trusted CA."""
    app = emulator.demo_app
    renewed = kit.issue(emulator.state.ca, emulator.demo_credential.certificate.subject)
    assert renewed.x5t_s256 not in app.thumbprints()
    signed = kit.assertion(renewed, app.client_id, kit.token_url(emulator), key_id="x5c")
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    assert response.status_code == 200, response.text


def test_x5c_assertion_with_other_subject_is_unknown_key(emulator: Emulator) -> None:
    app = emulator.demo_app
    other = kit.issue(
        emulator.state.ca, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "someone else")])
    )
    signed = kit.assertion(other, app.client_id, kit.token_url(emulator), key_id="x5c")
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")


def test_unknown_client_is_700016(emulator: Emulator) -> None:
    response = _post(emulator, kit.form(emulator, client_id=str(uuid.uuid4()), client_secret="x"))
    kit.assert_ests_error(response, status=400, code=700016, error="unauthorized_client")


def test_wrong_secret_is_7000215(emulator: Emulator) -> None:
    response = _post(emulator, kit.form(emulator, client_secret="not-the-secret"))
    body = kit.assert_ests_error(response, status=401, code=7000215, error="invalid_client")
    assert "not-the-secret" not in response.text
    assert body["error_codes"] == [7000215]


def test_missing_client_authentication_is_7000218(emulator: Emulator) -> None:
    response = _post(emulator, kit.form(emulator))
    kit.assert_ests_error(response, status=400, code=7000218, error="invalid_client")


def test_assertion_signed_by_unregistered_key_is_700027(emulator: Emulator) -> None:
    stranger = kit.self_signed("stranger")
    signed = kit.assertion(stranger, emulator.demo_app.client_id, kit.token_url(emulator))
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    body = kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")
    assert stranger.x5t in body["error_description"]


def test_assertion_with_registered_thumbprint_but_wrong_key_fails_signature(
    emulator: Emulator,
) -> None:
    credential = emulator.demo_credential
    signed = kit.assertion(
        credential,
        emulator.demo_app.client_id,
        kit.token_url(emulator),
        signing_key=kit.new_key(),
    )
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    body = kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")
    assert "signature validation" in body["error_description"]


def test_expired_assertion_is_700024(emulator: Emulator) -> None:
    signed = kit.assertion(
        emulator.demo_credential,
        emulator.demo_app.client_id,
        kit.token_url(emulator),
        now=time.time() - 3600,
        lifetime=600,
    )
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    kit.assert_ests_error(response, status=400, code=700024, error="invalid_client")


def test_assertion_not_yet_valid_is_700024(emulator: Emulator) -> None:
    """`nbf` beyond the allowed clock skew (300 s by default)."""
    signed = kit.assertion(
        emulator.demo_credential,
        emulator.demo_app.client_id,
        kit.token_url(emulator),
        now=time.time() + 3600,
    )
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    kit.assert_ests_error(response, status=400, code=700024, error="invalid_client")


def test_assertion_expires_when_the_emulator_clock_moves_on(emulator: Emulator) -> None:
    signed = kit.assertion(
        emulator.demo_credential, emulator.demo_app.client_id, kit.token_url(emulator)
    )
    emulator.state.clock.shift(3600)
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    kit.assert_ests_error(response, status=400, code=700024, error="invalid_client")


def test_assertion_for_another_audience_is_refused(emulator: Emulator) -> None:
    signed = kit.assertion(
        emulator.demo_credential, emulator.demo_app.client_id, "https://example.com/token"
    )
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    kit.assert_ests_error(response, status=401, code=700023, error="invalid_client")


def test_assertion_issued_for_another_client_is_refused(emulator: Emulator) -> None:
    signed = kit.assertion(
        emulator.demo_credential,
        emulator.demo_app.client_id,
        kit.token_url(emulator),
        issuer=str(uuid.uuid4()),
    )
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    kit.assert_ests_error(response, status=401, code=700021, error="invalid_client")


def test_assertion_whose_subject_is_another_client_is_refused(emulator: Emulator) -> None:
    app = emulator.demo_app
    credential = emulator.demo_credential
    now = int(time.time())
    claims = {
        "aud": kit.token_url(emulator),
        "iss": app.client_id,
        "sub": str(uuid.uuid4()),
        "jti": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    header = {"alg": "RS256", "typ": "JWT", "x5t": credential.x5t}
    signed = kit.sign(header, claims, credential.private_key)  # type: ignore[arg-type]
    response = _post(
        emulator, kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)
    )
    kit.assert_ests_error(response, status=401, code=700021, error="invalid_client")


def test_malformed_assertion_is_50027(emulator: Emulator) -> None:
    response = _post(
        emulator,
        kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion="not.a.jwt"),
    )
    kit.assert_ests_error(response, status=400, code=50027, error="invalid_request")


@pytest.mark.parametrize("scope", ["api://x/read", "https://graph.microsoft.com/User.Read"])
def test_scope_without_default_suffix_is_1002012(emulator: Emulator, scope: str) -> None:
    app = emulator.manifest.apps[0]
    response = _post(emulator, kit.form(emulator, client_secret=app.client_secret, scope=scope))
    kit.assert_ests_error(response, status=400, code=1002012, error="invalid_scope")


def test_two_default_scopes_are_70011(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    scope = f"{emulator.manifest.resource.scope} https://vault.azure.net/.default"
    response = _post(emulator, kit.form(emulator, client_secret=app.client_secret, scope=scope))
    kit.assert_ests_error(response, status=400, code=70011, error="invalid_scope")


def test_openid_scopes_are_ignored_next_to_a_default_scope(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    scope = f"{emulator.manifest.resource.scope} openid profile offline_access"
    response = _post(emulator, kit.form(emulator, client_secret=app.client_secret, scope=scope))
    assert response.status_code == 200, response.text


def test_unknown_resource_is_500011(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    scope = f"api://{uuid.uuid4()}/.default"
    response = _post(emulator, kit.form(emulator, client_secret=app.client_secret, scope=scope))
    kit.assert_ests_error(response, status=400, code=500011, error="invalid_resource")


@pytest.mark.parametrize("tenant", ["common", "organizations", "consumers"])
def test_multi_tenant_authority_is_50059_for_client_credentials(
    emulator: Emulator, tenant: str
) -> None:
    app = emulator.manifest.apps[0]
    with kit.client(emulator) as http:
        response = http.post(
            kit.token_url(emulator, tenant),
            data=kit.form(emulator, client_secret=app.client_secret),
        )
    kit.assert_ests_error(response, status=400, code=50059, error="invalid_request")


def test_unknown_tenant_is_90002(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    with kit.client(emulator) as http:
        response = http.post(
            kit.token_url(emulator, str(uuid.uuid4())),
            data=kit.form(emulator, client_secret=app.client_secret),
        )
    kit.assert_ests_error(response, status=400, code=90002, error="invalid_request")


def test_missing_grant_type_and_unsupported_grant(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    missing = _post(emulator, kit.form(emulator, client_secret=app.client_secret, grant_type=None))  # type: ignore[arg-type]
    other = _post(
        emulator, kit.form(emulator, client_secret=app.client_secret, grant_type="password")
    )
    kit.assert_ests_error(missing, status=400, code=900144, error="invalid_request")
    kit.assert_ests_error(other, status=400, code=70003, error="unsupported_grant_type")


def test_get_on_token_endpoint_is_refused(emulator: Emulator) -> None:
    with kit.client(emulator) as http:
        response = http.get(kit.token_url(emulator))
    kit.assert_ests_error(response, status=400, code=900561, error="invalid_request")


def test_mtls_pop_on_login_host_is_refused_and_names_the_mtls_endpoint(
    emulator: Emulator,
) -> None:
    app = emulator.manifest.apps[0]
    response = _post(
        emulator, kit.form(emulator, client_secret=app.client_secret, token_type="mtls_pop")
    )
    body = kit.assert_ests_error(response, status=400, code=9900001, error="invalid_request")
    assert kit.mtls_url(emulator) in body["error_description"]


def test_client_request_id_is_echoed_only_when_asked(emulator: Emulator) -> None:
    app = emulator.manifest.apps[0]
    request_id = str(uuid.uuid4())
    data = kit.form(emulator, client_secret=app.client_secret)
    echoed = _post(
        emulator,
        data,
        headers={"client-request-id": request_id, "return-client-request-id": "true"},
    )
    silent = _post(emulator, data, headers={"client-request-id": request_id})
    assert echoed.headers["client-request-id"] == request_id
    assert "client-request-id" not in silent.headers


def test_error_correlation_id_echoes_client_request_id(emulator: Emulator) -> None:
    request_id = str(uuid.uuid4())
    response = _post(
        emulator,
        kit.form(emulator, client_secret="wrong"),
        headers={"client-request-id": request_id, "return-client-request-id": "true"},
    )
    body = kit.assert_ests_error(response, status=401, code=7000215, error="invalid_client")
    assert body["correlation_id"] == request_id
    assert response.headers["client-request-id"] == request_id


def test_refresh_in_is_returned_when_configured() -> None:
    with Emulator(EmulatorConfig(refresh_in=1800, token_lifetime=7200)) as emulator:
        app = emulator.manifest.apps[0]
        body = _post(emulator, kit.form(emulator, client_secret=app.client_secret)).json()
        with kit.client(emulator, emulator.demo_credential) as http:
            pop = http.post(kit.mtls_url(emulator), data=kit.form(emulator, token_type="mtls_pop"))
    assert body["refresh_in"] == 1800
    assert body["expires_in"] == 7200
    assert pop.json()["token_type"] == "mtls_pop"
    assert (pop.json()["expires_in"], pop.json()["ext_expires_in"]) == (7200, 7200)
    assert pop.json()["refresh_in"] == 1800


def test_login_host_logs_a_presented_certificate_but_never_authenticates_with_it(
    emulator: Emulator,
) -> None:
    credential = emulator.demo_credential
    with kit.client(emulator, credential) as http:
        response = http.post(kit.token_url(emulator), data=kit.form(emulator))
    kit.assert_ests_error(response, status=400, code=7000218, error="invalid_client")
    (entry,) = emulator.requests("entra.token")
    assert entry["client_cert_x5t_s256"] == credential.x5t_s256
