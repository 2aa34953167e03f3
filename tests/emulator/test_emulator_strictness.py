"""Where the emulator is as strict as the service: api versions, mTLS enrolment, certificate
chains with an intermediate, federated credential audiences, certificate validity."""

from __future__ import annotations

import datetime as dt

import emulator_testkit as kit
import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.emulator._demo_tenant import build_default_state, create_app
from identity_web.protocol import BindingCertificate

TOKEN = "/metadata/identity/oauth2/token"
METADATA = "/metadata/identity/getplatformmetadata"
ISSUE = "/metadata/identity/issuecredential"


def _imds(emulator: Emulator, method: str, path: str, **params: str) -> httpx.Response:
    body = kit.issue_credential_body(emulator) if method == "POST" else None
    return httpx.request(
        method,
        f"{emulator.manifest.imds_endpoint}{path}",
        params=params,
        headers={"Metadata": "true"},
        json=body,
        timeout=10,
    )


# --- api-version and cred-api-version ---------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "status"),
    [("2018-02-01", 200), ("2019-08-01", 200), ("2017-12-01", 400), ("2018-02-02", 400)],
)
def test_identity_token_api_version_is_checked(
    emulator: Emulator, version: str, status: int
) -> None:
    resource = emulator.manifest.resource.scope.removesuffix("/.default")
    response = _imds(emulator, "GET", TOKEN, **{"api-version": version, "resource": resource})
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json() == {
            "error": "invalid_request",
            "error_description": f"Invalid api-version '{version}'. Supported versions: "
            + ", ".join(v for v in _published() if v >= "2018-02-01"),
        }
        assert response.headers["server"].startswith("IMDS/")


def test_missing_api_version_is_named(emulator: Emulator) -> None:
    response = _imds(emulator, "GET", TOKEN, resource="https://vault.azure.net")
    assert response.status_code == 400
    assert response.json()["error_description"] == (
        "Required query variable 'api-version' is missing"
    )


@pytest.mark.parametrize("path", [METADATA, ISSUE])
@pytest.mark.parametrize("version", ["1.0", "2", "2.0 ", "V2.0"])
def test_cred_api_version_other_than_2_0_is_refused(
    emulator: Emulator, path: str, version: str
) -> None:
    emulator.set_attestation_mode("off")  # the versions alone (a certificate without a token)
    method = "POST" if path == ISSUE else "GET"
    response = _imds(emulator, method, path, **{"cred-api-version": version})
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert "cred-api-version" in response.json()["error_description"]
    assert _imds(emulator, method, path, **{"cred-api-version": "2.0"}).status_code == 200


@pytest.mark.parametrize(
    "path", ["/metadata/instance/compute", "/metadata/instance/compute/location"]
)
def test_instance_metadata_answers_bad_versions_in_imds_shape(
    emulator: Emulator, path: str
) -> None:
    missing = _imds(emulator, "GET", path, format="text")
    unknown = _imds(emulator, "GET", path, **{"api-version": "2030-01-01", "format": "text"})
    for response, reason in (
        (missing, "was not specified in the request"),
        (unknown, "is invalid"),
    ):
        assert response.status_code == 400
        assert response.json() == {
            "error": f"Bad request. api-version {reason}. For more information refer to "
            "aka.ms/azureimds",
            "newest-versions": ["2023-07-01", "2021-12-13", "2021-11-15"],
        }
    good = _imds(emulator, "GET", path, **{"api-version": "2021-02-01", "format": "text"})
    assert good.status_code == 200


def _published() -> list[str]:
    from identity_web.emulator._imds_common import API_VERSIONS  # noqa: PLC0415

    return list(API_VERSIONS)


# --- AADSTS51000 -------------------------------------------------------------------------------


def test_app_not_enabled_for_mtls_client_auth_gets_51000_on_the_mtls_host(
    emulator: Emulator,
) -> None:
    app = create_app(emulator.state, "no mtls enrolment")
    app.mtls_client_auth_enabled = False
    credential = emulator.state.app_credentials[app.client_id]
    pop = kit.form(emulator, client_id=app.client_id, token_type="mtls_pop")
    bearer_over_mtls = kit.form(emulator, client_id=app.client_id)
    with kit.client(emulator, credential) as http:
        for data in (pop, bearer_over_mtls):
            response = http.post(kit.mtls_url(emulator), data=data)
            body = kit.assert_ests_error(response, status=400, code=51000, error="invalid_request")
            assert "MtlsClientAuth is/are disabled" in body["error_description"]
        login = http.post(
            kit.token_url(emulator),
            data=kit.form(emulator, client_id=app.client_id, client_secret=app.client_secret),
        )
    assert login.status_code == 200, login.text


def test_demo_app_enrolment_is_configurable_and_in_the_manifest() -> None:
    assert build_default_state().apps[0].mtls_client_auth_enabled is True
    state = build_default_state(EmulatorConfig(demo_mtls_client_auth=False))
    assert state.apps[0].mtls_client_auth_enabled is False
    with Emulator(state=state) as emulator:
        assert emulator.manifest.apps[0].mtls_client_auth_enabled is False
        with kit.client(emulator, emulator.demo_credential) as http:
            response = http.post(kit.mtls_url(emulator), data=kit.form(emulator))
        kit.assert_ests_error(response, status=400, code=51000, error="invalid_request")


# --- client certificate chains with an intermediate ---------------------------------------------


def _assertion_form(emulator: Emulator, client_id: str, assertion: str) -> dict[str, str]:
    return kit.form(
        emulator,
        client_id=client_id,
        client_assertion_type=kit.JWT_BEARER,
        client_assertion=assertion,
    )


def _subject(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def test_certificate_from_an_intermediate_authenticates_with_its_chain(
    emulator: Emulator,
) -> None:
    """Registered: a certificate issued by an intermediate CA under the emulator CA. Presented:
    a renewed certificate (new key, same subject and intermediate), with the intermediate."""
    state = emulator.state
    intermediate = state.ca.intermediate("identity-web test intermediate")
    registered = kit.issue(intermediate, _subject("chained app"))
    app = create_app(state, "chained app")
    state.add_app_certificate(app.client_id, registered.certificate)
    renewed_key = kit.new_key()
    renewed = BindingCertificate.create(
        intermediate.issue(renewed_key.public_key(), _subject("chained app"), days=30),
        renewed_key,
        (intermediate.certificate,),
    )
    assert renewed.x5t_s256 not in app.thumbprints()
    with kit.client(emulator, renewed) as http:
        pop = http.post(
            kit.mtls_url(emulator),
            data=kit.form(emulator, client_id=app.client_id, token_type="mtls_pop"),
        )
        signed = kit.assertion(renewed, app.client_id, kit.token_url(emulator), key_id="x5c")
        by_assertion = http.post(
            kit.token_url(emulator),
            data=_assertion_form(emulator, app.client_id, signed),
        )
    assert pop.status_code == 200, pop.text
    assert kit.claims_of(pop.json()["access_token"])["cnf"]["x5t#S256"] == renewed.x5t_s256
    assert by_assertion.status_code == 200, by_assertion.text


def test_x5c_without_the_intermediate_does_not_authenticate(emulator: Emulator) -> None:
    state = emulator.state
    intermediate = state.ca.intermediate("identity-web test intermediate 2")
    app = create_app(state, "chained app 2")
    state.add_app_certificate(
        app.client_id, kit.issue(intermediate, _subject("chained app 2")).certificate
    )
    renewed = kit.issue(intermediate, _subject("chained app 2"))
    leaf_only = BindingCertificate.create(renewed.certificate, renewed.private_key)
    signed = kit.assertion(leaf_only, app.client_id, kit.token_url(emulator), key_id="x5c")
    with kit.client(emulator) as http:
        response = http.post(
            kit.token_url(emulator),
            data=_assertion_form(emulator, app.client_id, signed),
        )
    kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")


def test_same_subject_from_another_intermediate_is_not_sni(emulator: Emulator) -> None:
    state = emulator.state
    first = state.ca.intermediate("identity-web intermediate A")
    second = state.ca.intermediate("identity-web intermediate B")
    app = create_app(state, "chained app 3")
    state.add_app_certificate(
        app.client_id, kit.issue(first, _subject("chained app 3")).certificate
    )
    other = kit.issue(second, _subject("chained app 3"))
    with kit.client(emulator, other) as http:
        response = http.post(
            kit.mtls_url(emulator),
            data=kit.form(emulator, client_id=app.client_id, token_type="mtls_pop"),
        )
    kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")


def test_chain_from_a_foreign_ca_fails_at_the_handshake(emulator: Emulator) -> None:
    foreign = kit.CertificateAuthority.create("someone else's CA").intermediate("theirs")
    credential = kit.issue(foreign, emulator.demo_credential.certificate.subject)
    with kit.client(emulator, credential) as http, pytest.raises(httpx.TransportError):
        http.post(kit.mtls_url(emulator), data=kit.form(emulator, token_type="mtls_pop"))


# --- federated identity credential audience ----------------------------------------------------


def _exchange_token(emulator: Emulator, audience: str) -> str:
    mi = emulator.state.managed_identities[0]
    return emulator.state.mint_access_token(
        client_id=mi.client_id, object_id=mi.object_id, audience=audience, appidacr="2"
    )


def _fic(emulator: Emulator, assertion: str) -> httpx.Response:
    data = kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=assertion)
    with kit.client(emulator) as http:
        return http.post(kit.token_url(emulator), data=data)


@pytest.mark.parametrize(
    "audience",
    [
        "api://AzureADTokenExchange",
        "api://AzureADTokenExchangeUSGov",
        "api://AzureADTokenExchangeChina",
    ],
)
def test_fic_accepts_entras_exchange_audiences(emulator: Emulator, audience: str) -> None:
    response = _fic(emulator, _exchange_token(emulator, audience))
    assert response.status_code == 200, response.text


def test_fic_audience_must_match_exactly(emulator: Emulator) -> None:
    exchange = emulator.state.resources.find("api://AzureADTokenExchange")
    assert exchange is not None
    for audience in (exchange.app_id, "api://azureadtokenexchange", "api://AzureADTokenExchange/"):
        response = _fic(emulator, _exchange_token(emulator, audience))
        kit.assert_ests_error(response, status=400, code=700212, error="invalid_request")


def test_managed_identity_gets_tokens_for_the_sovereign_exchange_audiences(
    emulator: Emulator,
) -> None:
    response = _imds(
        emulator,
        "GET",
        TOKEN,
        **{"api-version": "2018-02-01", "resource": "api://AzureADTokenExchangeUSGov"},
    )
    assert response.status_code == 200, response.text
    assert kit.claims_of(response.json()["access_token"])["aud"] == (
        "api://AzureADTokenExchangeUSGov"
    )


# --- certificate validity -----------------------------------------------------------------------


def test_assertion_signed_by_an_expired_registered_certificate_is_1000502(
    emulator: Emulator,
) -> None:
    state = emulator.state
    key = kit.new_key()
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    expired = BindingCertificate.create(
        state.ca.issue(key.public_key(), _subject("expired app"), days=1, not_before=start),
        key,
    )
    app = create_app(state, "expired app")
    state.add_app_certificate(app.client_id, expired.certificate)
    signed = kit.assertion(expired, app.client_id, kit.token_url(emulator), key_id="x5t#S256")
    data = kit.form(
        emulator,
        client_id=app.client_id,
        client_assertion_type=kit.JWT_BEARER,
        client_assertion=signed,
    )
    with kit.client(emulator) as http:
        response = http.post(kit.token_url(emulator), data=data)
    body = kit.assert_ests_error(response, status=401, code=1000502, error="invalid_client")
    assert expired.x5t_s256 in body["error_description"]
