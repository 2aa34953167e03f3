"""The mtlsauth host: certificate-bound tokens for apps, managed identities and FIC (jwt-pop)."""

from __future__ import annotations

import ssl
import uuid
from collections.abc import Iterator

import emulator_testkit as kit
import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.emulator._directory import AppRegistration
from identity_web.protocol import BindingCertificate

EXCHANGE_SCOPE = "api://AzureADTokenExchange/.default"


def _post(
    emulator: Emulator, credential: BindingCertificate | None, data: dict[str, str]
) -> httpx.Response:
    with kit.client(emulator, credential) as http:
        return http.post(kit.mtls_url(emulator), data=data)


def _mi_pop_token(emulator: Emulator, kind: str = "UserAssigned") -> tuple[str, BindingCertificate]:
    """Leg 1 of FIC over IMDS v2: the managed identity's bound token for the exchange audience."""
    mi = next(m for m in emulator.state.managed_identities if m.kind == kind)
    binding = kit.imds_certificate(emulator, mi.client_id)
    response = _post(
        emulator,
        binding,
        kit.form(emulator, client_id=mi.client_id, scope=EXCHANGE_SCOPE, token_type="mtls_pop"),
    )
    assert response.status_code == 200, response.text
    return response.json()["access_token"], binding


def test_app_certificate_gets_mtls_pop_token_bound_to_it(emulator: Emulator) -> None:
    credential = emulator.demo_credential
    response = _post(emulator, credential, kit.form(emulator, token_type="mtls_pop"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "mtls_pop"
    claims = kit.claims_of(body["access_token"])
    assert claims["cnf"] == {"x5t#S256": credential.x5t_s256}
    assert claims["xms_tbflags"] == 2
    assert claims["appidacr"] == "2"
    assert claims["appid"] == emulator.demo_app.client_id


def test_renewed_certificate_with_same_subject_and_issuer_authenticates(
    emulator: Emulator,
) -> None:
    renewed = kit.issue(emulator.state.ca, emulator.demo_credential.certificate.subject)
    response = _post(emulator, renewed, kit.form(emulator, token_type="mtls_pop"))
    assert response.status_code == 200, response.text
    assert kit.claims_of(response.json()["access_token"])["cnf"]["x5t#S256"] == renewed.x5t_s256


def test_certificate_alone_without_token_type_gets_bearer_over_mtls(emulator: Emulator) -> None:
    response = _post(emulator, emulator.demo_credential, kit.form(emulator))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert "cnf" not in kit.claims_of(body["access_token"])


def test_jwt_bearer_assertion_over_mtls_gets_bearer(emulator: Emulator) -> None:
    signed = kit.assertion(
        emulator.demo_credential, emulator.demo_app.client_id, kit.mtls_url(emulator)
    )
    response = _post(
        emulator,
        emulator.demo_credential,
        kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed),
    )
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


@pytest.fixture
def second_certificate(emulator: Emulator) -> Iterator[BindingCertificate]:
    """A second certificate registered for the demo app, with a subject of its own."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "second app certificate")])
    second = kit.issue(emulator.state.ca, name)
    emulator.demo_app.certificates.append(second.certificate)
    try:
        yield second
    finally:
        emulator.demo_app.certificates.remove(second.certificate)


def _bearer_form(emulator: Emulator, signer: BindingCertificate, key_id: str) -> dict[str, str]:
    signed = kit.assertion(
        signer, emulator.demo_app.client_id, kit.mtls_url(emulator), key_id=key_id
    )
    return kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=signed)


@pytest.mark.parametrize("key_id", ["x5t#S256", "x5t", "x5c"])
def test_jwt_bearer_signed_by_another_certificate_than_the_tls_one_is_refused(
    emulator: Emulator, second_certificate: BindingCertificate, key_id: str
) -> None:
    """Both certificates are registered; over mTLS the assertion must come from the TLS one."""
    form = _bearer_form(emulator, second_certificate, key_id)
    response = _post(emulator, emulator.demo_credential, form)
    body = kit.assert_ests_error(response, status=401, code=9900005, error="invalid_client")
    assert second_certificate.x5t_s256 in body["error_description"]
    assert emulator.demo_credential.x5t_s256 in body["error_description"]
    accepted = _post(
        emulator, second_certificate, _bearer_form(emulator, second_certificate, key_id)
    )
    assert accepted.status_code == 200, accepted.text


def test_jwt_bearer_on_the_mtls_host_without_a_client_certificate_is_refused(
    emulator: Emulator,
) -> None:
    form = _bearer_form(emulator, emulator.demo_credential, "x5t#S256")
    body = kit.assert_ests_error(
        _post(emulator, None, form), status=401, code=9900002, error="invalid_client"
    )
    assert "Bearer over mTLS" in body["error_description"]


def test_client_secret_on_the_mtls_host_without_a_client_certificate_is_refused(
    emulator: Emulator,
) -> None:
    form = kit.form(emulator, client_secret=emulator.demo_app.client_secret or "")
    response = _post(emulator, None, form)
    kit.assert_ests_error(response, status=401, code=9900002, error="invalid_client")


def test_mtls_pop_without_client_certificate_is_refused(emulator: Emulator) -> None:
    response = _post(emulator, None, kit.form(emulator, token_type="mtls_pop"))
    kit.assert_ests_error(response, status=401, code=9900002, error="invalid_client")


def test_no_certificate_and_no_credential_on_mtls_host_is_refused(emulator: Emulator) -> None:
    response = _post(emulator, None, kit.form(emulator))
    kit.assert_ests_error(response, status=401, code=9900002, error="invalid_client")


def test_certificate_of_trusted_ca_but_not_registered_is_700027(emulator: Emulator) -> None:
    other = kit.issue(
        emulator.state.ca, x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not registered")])
    )
    response = _post(emulator, other, kit.form(emulator, token_type="mtls_pop"))
    body = kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")
    assert other.x5t_s256 in body["error_description"]


def test_unknown_self_signed_certificate_fails_at_the_tls_handshake(emulator: Emulator) -> None:
    """Documented limitation: Python's ssl must verify a client certificate to accept it."""
    stranger = kit.self_signed("stranger")
    with pytest.raises(
        (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError, ssl.SSLError)
    ):
        _post(emulator, stranger, kit.form(emulator, token_type="mtls_pop"))


def test_self_signed_certificate_registered_at_runtime_is_trusted(emulator: Emulator) -> None:
    certificate = kit.self_signed("runtime app")
    app = emulator.state.register_app(
        AppRegistration(client_id=str(uuid.uuid4()), certificates=[certificate.certificate])
    )
    try:
        response = _post(
            emulator,
            certificate,
            kit.form(emulator, client_id=app.client_id, token_type="mtls_pop"),
        )
    finally:
        emulator.state.apps.remove(app)
    assert response.status_code == 200, response.text
    assert kit.claims_of(response.json()["access_token"])["cnf"]["x5t#S256"] == (
        certificate.x5t_s256
    )


def test_resource_not_enrolled_for_bound_tokens_is_392196(emulator: Emulator) -> None:
    response = _post(
        emulator,
        emulator.demo_credential,
        kit.form(emulator, token_type="mtls_pop", scope="https://management.azure.com/.default"),
    )
    kit.assert_ests_error(response, status=400, code=392196, error="invalid_request")


def test_392196_is_configurable_per_resource(emulator: Emulator) -> None:
    audience = emulator.manifest.resource.scope.removesuffix("/.default")
    emulator.state.resources.set_bound_tokens_enabled(audience, False)
    try:
        refused = _post(
            emulator, emulator.demo_credential, kit.form(emulator, token_type="mtls_pop")
        )
        bearer = _post(emulator, emulator.demo_credential, kit.form(emulator))
    finally:
        emulator.state.resources.set_bound_tokens_enabled(audience, True)
    kit.assert_ests_error(refused, status=400, code=392196, error="invalid_request")
    assert bearer.status_code == 200


def test_client_assertion_with_mtls_pop_is_refused(emulator: Emulator) -> None:
    signed = kit.assertion(
        emulator.demo_credential, emulator.demo_app.client_id, kit.mtls_url(emulator)
    )
    data = kit.form(
        emulator,
        token_type="mtls_pop",
        client_assertion_type=kit.JWT_BEARER,
        client_assertion=signed,
    )
    response = _post(emulator, emulator.demo_credential, data)
    kit.assert_ests_error(response, status=400, code=9900003, error="invalid_request")


def test_client_secret_with_mtls_pop_is_refused(emulator: Emulator) -> None:
    data = kit.form(
        emulator, token_type="mtls_pop", client_secret=emulator.manifest.apps[0].client_secret
    )
    response = _post(emulator, emulator.demo_credential, data)
    kit.assert_ests_error(response, status=400, code=9900003, error="invalid_request")


@pytest.mark.parametrize("kind", ["SystemAssigned", "UserAssigned"])
def test_imds_issued_certificate_authenticates_its_managed_identity(
    emulator: Emulator, kind: str
) -> None:
    mi = next(m for m in emulator.state.managed_identities if m.kind == kind)
    binding = kit.imds_certificate(emulator, mi.client_id)
    response = _post(
        emulator, binding, kit.form(emulator, client_id=mi.client_id, token_type="mtls_pop")
    )
    assert response.status_code == 200, response.text
    body = response.json()
    claims = kit.claims_of(body["access_token"])
    assert body["token_type"] == "mtls_pop"
    assert body["expires_in"] == emulator.config.managed_identity_token_lifetime
    assert claims["appid"] == mi.client_id
    assert claims["oid"] == mi.object_id
    assert claims["appidacr"] == "2"
    assert claims["cnf"]["x5t#S256"] == binding.x5t_s256


def test_imds_certificate_of_another_identity_is_refused(emulator: Emulator) -> None:
    system, user = emulator.state.managed_identities[:2]
    binding = kit.imds_certificate(emulator, system.client_id)
    response = _post(
        emulator, binding, kit.form(emulator, client_id=user.client_id, token_type="mtls_pop")
    )
    kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")


def test_app_certificate_does_not_authenticate_a_managed_identity(emulator: Emulator) -> None:
    mi = emulator.state.managed_identities[0]
    response = _post(
        emulator,
        emulator.demo_credential,
        kit.form(emulator, client_id=mi.client_id, token_type="mtls_pop"),
    )
    kit.assert_ests_error(response, status=401, code=700027, error="invalid_client")


def test_fic_jwt_pop_leg2_gets_token_bound_to_the_leg1_certificate(emulator: Emulator) -> None:
    leg1, binding = _mi_pop_token(emulator)
    data = kit.form(
        emulator, token_type="mtls_pop", client_assertion_type=kit.JWT_POP, client_assertion=leg1
    )
    response = _post(emulator, binding, data)
    assert response.status_code == 200, response.text
    claims = kit.claims_of(response.json()["access_token"])
    assert response.json()["token_type"] == "mtls_pop"
    assert claims["appid"] == emulator.demo_app.client_id
    assert claims["cnf"]["x5t#S256"] == binding.x5t_s256


def test_fic_jwt_pop_without_token_type_gets_bearer(emulator: Emulator) -> None:
    leg1, binding = _mi_pop_token(emulator, "SystemAssigned")
    data = kit.form(emulator, client_assertion_type=kit.JWT_POP, client_assertion=leg1)
    response = _post(emulator, binding, data)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_fic_jwt_pop_with_another_certificate_is_refused(emulator: Emulator) -> None:
    leg1, _ = _mi_pop_token(emulator)
    data = kit.form(
        emulator, token_type="mtls_pop", client_assertion_type=kit.JWT_POP, client_assertion=leg1
    )
    response = _post(emulator, emulator.demo_credential, data)
    kit.assert_ests_error(response, status=401, code=9900004, error="invalid_client")


def test_fic_jwt_pop_with_unbound_assertion_is_refused(emulator: Emulator) -> None:
    mi = emulator.state.managed_identities[1]
    bearer = emulator.state.mint_access_token(
        client_id=mi.client_id,
        object_id=mi.object_id,
        audience="api://AzureADTokenExchange",
        appidacr="2",
    )
    data = kit.form(emulator, client_assertion_type=kit.JWT_POP, client_assertion=bearer)
    response = _post(emulator, emulator.demo_credential, data)
    kit.assert_ests_error(response, status=401, code=9900004, error="invalid_client")


def test_fic_assertion_for_wrong_audience_is_700212(emulator: Emulator) -> None:
    mi = emulator.state.managed_identities[1]
    binding = kit.imds_certificate(emulator, mi.client_id)
    wrong = emulator.state.mint_access_token(
        client_id=mi.client_id,
        object_id=mi.object_id,
        audience="https://vault.azure.net",
        appidacr="2",
        cnf_x5t_s256=binding.x5t_s256,
    )
    data = kit.form(emulator, client_assertion_type=kit.JWT_POP, client_assertion=wrong)
    response = _post(emulator, binding, data)
    kit.assert_ests_error(response, status=400, code=700212, error="invalid_request")


def test_fic_assertion_from_untrusted_identity_is_700213(emulator: Emulator) -> None:
    emulator.demo_app.federated_managed_identities.remove(
        user := emulator.state.managed_identities[1].client_id
    )
    try:
        leg1, binding = _mi_pop_token(emulator)
        data = kit.form(emulator, client_assertion_type=kit.JWT_POP, client_assertion=leg1)
        response = _post(emulator, binding, data)
    finally:
        emulator.demo_app.federated_managed_identities.append(user)
    kit.assert_ests_error(response, status=400, code=700213, error="invalid_request")


def test_fic_assertion_signed_by_someone_else_is_70021(emulator: Emulator) -> None:
    mi = emulator.state.managed_identities[1]
    binding = kit.imds_certificate(emulator, mi.client_id)
    claims = kit.claims_of(
        emulator.state.mint_access_token(
            client_id=mi.client_id,
            object_id=mi.object_id,
            audience="api://AzureADTokenExchange",
            appidacr="2",
            cnf_x5t_s256=binding.x5t_s256,
        )
    )
    forged = kit.sign({"alg": "RS256", "kid": emulator.state.signing.kid}, claims, kit.new_key())
    data = kit.form(emulator, client_assertion_type=kit.JWT_POP, client_assertion=forged)
    response = _post(emulator, binding, data)
    kit.assert_ests_error(response, status=400, code=70021, error="invalid_request")


def test_fic_bearer_leg2_on_login_host_with_unbound_mi_token(emulator: Emulator) -> None:
    """fic-bearer: an IMDS v1 (unbound) token for the exchange audience as jwt-bearer."""
    mi = emulator.state.managed_identities[0]
    leg1 = emulator.state.mint_access_token(
        client_id=mi.client_id,
        object_id=mi.object_id,
        audience="api://AzureADTokenExchange",
        appidacr="2",
    )
    data = kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=leg1)
    with kit.client(emulator) as http:
        response = http.post(kit.token_url(emulator), data=data)
    assert response.status_code == 200, response.text
    assert kit.claims_of(response.json()["access_token"])["appid"] == emulator.demo_app.client_id


def test_bound_fic_token_used_as_bearer_assertion_without_its_certificate_is_refused(
    emulator: Emulator,
) -> None:
    leg1, _ = _mi_pop_token(emulator)
    data = kit.form(emulator, client_assertion_type=kit.JWT_BEARER, client_assertion=leg1)
    with kit.client(emulator) as http:
        response = http.post(kit.token_url(emulator), data=data)
    kit.assert_ests_error(response, status=401, code=9900004, error="invalid_client")


def test_mtls_host_logs_the_presented_certificate(emulator: Emulator) -> None:
    credential = emulator.demo_credential
    _post(emulator, credential, kit.form(emulator, token_type="mtls_pop"))
    (entry,) = emulator.requests("entra.mtls_token")
    assert entry["client_cert_x5t_s256"] == credential.x5t_s256
    assert entry["form"]["token_type"] == "mtls_pop"
    assert entry["status"] == 200


def test_392196_follows_the_bound_tokens_disabled_setting() -> None:
    config = EmulatorConfig(
        bound_tokens_disabled=("https://graph.microsoft.com",), extra_resources=("api://extra",)
    )
    with Emulator(config) as emulator:
        statuses = {
            scope: _post(
                emulator,
                emulator.demo_credential,
                kit.form(emulator, token_type="mtls_pop", scope=scope),
            )
            for scope in (
                "https://graph.microsoft.com/.default",
                "https://management.azure.com/.default",
                "api://extra/.default",
            )
        }
    graph, management, extra = statuses.values()
    kit.assert_ests_error(graph, status=400, code=392196, error="invalid_request")
    assert management.status_code == 200, management.text
    assert extra.status_code == 200, extra.text
    assert kit.claims_of(extra.json()["access_token"])["aud"] == "api://extra"
