"""IMDS v2 (mTLS PoP) flows driven by hand against the emulator's IMDS service in-process.

The token leg is answered by a stand-in that checks what ESTS would check (the request
presents the IMDS-issued certificate); the real mtlsauth host is covered by the integration
tests. Here: request shapes, certificate caching, re-issue, fail-closed and error messages.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from mi_testkit import (
    FakeClock,
    FakeDriver,
    from_emulator_response,
    query,
    response,
    to_emulator_request,
)

from identity_web import ManagedIdentityError, ServiceError, TokenTypeMismatchError
from identity_web.emulator import EmulatorConfig
from identity_web.emulator._attestation import AttestationMode
from identity_web.emulator._demo_tenant import build_default_state
from identity_web.emulator._pki import name
from identity_web.emulator._recording import ScriptedResponse
from identity_web.emulator._state import EmulatorState
from identity_web.emulator.imds import ImdsService
from identity_web.managed_identity import BlockingAttestationProvider, ManagedIdentityClient
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.protocol.imds_v2 import parse_platform_metadata
from identity_web.settings import ManagedIdentityOptions

IMDS = "http://127.0.0.1:9"
MTLS = "https://127.0.0.1:10"
SYSTEM = ManagedIdentityOptions()


@dataclass
class FakeHost:
    """IMDS (the emulator's service) plus a stand-in mtlsauth token endpoint."""

    state: EmulatorState
    imds: ImdsService
    token_answers: list[Callable[[HttpRequest], HttpResponse]] = field(default_factory=list)
    token_requests: list[HttpRequest] = field(default_factory=list)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.url.startswith(IMDS):
            answer = self.imds.handle(to_emulator_request(request))
            return from_emulator_response(answer, request.url)
        self.token_requests.append(request)
        if self.token_answers:
            return self.token_answers.pop(0)(request)
        return self.mtls_pop_token(request)

    def mtls_pop_token(self, request: HttpRequest) -> HttpResponse:
        assert request.tls_identity is not None
        assert self.state.imds_issuer.issued(request.tls_identity.certificate)
        return response(200, {"token_type": "mtls_pop", "expires_in": "3599", "access_token": "at"})

    def issued(self) -> int:
        return len(self.state.request_log.entries("imds.issuecredential"))


@pytest.fixture(scope="module")
def shared_state() -> EmulatorState:
    state = build_default_state(EmulatorConfig(attestation_mode="optional"))  # the mode tested
    state.urls.mtls_base = MTLS + "/"
    return state


@pytest.fixture
def host(shared_state: EmulatorState) -> FakeHost:
    shared_state.request_log.clear()
    shared_state.faults.clear()
    return FakeHost(shared_state, ImdsService(shared_state))


@pytest.fixture(scope="module")
def fixed_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def mi_client(fixed_key: rsa.RSAPrivateKey, **kwargs: object) -> ManagedIdentityClient:
    return ManagedIdentityClient(
        environ={"AZURE_POD_IDENTITY_AUTHORITY_HOST": IMDS},
        key_factory=lambda: fixed_key,
        retry_scale=0.0,
        arc_key_directory="/nonexistent",
        arc_agent_path="/nonexistent/himds",
        **kwargs,  # type: ignore[arg-type]
    )


def driver_for(host: FakeHost) -> FakeDriver:
    """Fake sleeps, but a clock that starts at the real time: IMDS certificates use real time."""
    return FakeDriver(host, FakeClock(time.time()))


def acquire(
    driver: FakeDriver, client: ManagedIdentityClient, options=SYSTEM, scope="api://r/.default"
):
    return driver.run(client.token_flow(options, scope, bound=True, now=driver.clock.now))


def test_bound_flow_sequence_and_token_request(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    driver = driver_for(host)
    token = acquire(driver, mi_client(fixed_key), scope="https://vault.azure.net/.default")
    metadata, issue, leg = driver.sent
    assert metadata.method == "GET"
    assert "/metadata/identity/getplatformmetadata?" in metadata.url
    assert query(metadata) == {"cred-api-version": "2.0"}
    assert metadata.headers["Metadata"] == "true"
    assert issue.method == "POST"
    assert "/metadata/identity/issuecredential?" in issue.url
    assert set(issue.json_body) == {"csr", "attestation_token"}
    assert issue.json_body["attestation_token"] == ""
    system = host.state.find_managed_identity()
    assert leg.url == f"{MTLS}/{host.state.tenant_id}/oauth2/v2.0/token"
    assert dict(leg.form or {}) == {
        "client_id": system.client_id,
        "grant_type": "client_credentials",
        "scope": "https://vault.azure.net/.default",
        "token_type": "mtls_pop",
    }
    assert leg.tls_identity is not None
    assert metadata.tls_identity is None
    assert issue.tls_identity is None
    assert token.token_type == "mtls_pop"
    assert token.binding_certificate == leg.tls_identity
    assert token.binding_certificate.private_key is fixed_key
    assert token.expires_on == driver.clock.now + 3599


def test_the_mtls_leg_carries_the_standard_ests_headers(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    """The leg goes through `protocol.oauth2`: x-client-* headers and a client-request-id."""
    driver = driver_for(host)
    token = acquire(driver, mi_client(fixed_key))
    leg = driver.sent[-1]
    assert leg.headers["x-client-SKU"] == "identity-web.python"
    assert leg.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert leg.headers["return-client-request-id"] == "true"
    assert token.correlation_id == leg.headers["client-request-id"]


def test_a_long_lived_bound_token_without_refresh_in_is_refreshed_at_half_life(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    host.token_answers = [
        lambda r: response(
            200, {"token_type": "mtls_pop", "expires_in": "86399", "access_token": "at"}
        )
    ]
    driver = driver_for(host)
    token = acquire(driver, mi_client(fixed_key))
    assert token.refresh_on == pytest.approx(driver.clock.now + 86399 / 2)


def test_issued_certificate_names_the_identity(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    token = acquire(driver_for(host), mi_client(fixed_key))
    certificate = token.binding_certificate.certificate
    system = host.state.find_managed_identity()
    assert (
        certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == system.client_id
    )
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert 6.9 < lifetime.total_seconds() / 86400 < 7.1


@pytest.mark.parametrize(
    ("options", "parameter"),
    [
        (lambda mi: ManagedIdentityOptions(user_assigned_client_id=mi.client_id), "client_id"),
        (lambda mi: ManagedIdentityOptions(user_assigned_object_id=mi.object_id), "object_id"),
        (lambda mi: ManagedIdentityOptions(user_assigned_resource_id=mi.resource_id), "mi_res_id"),
    ],
)
def test_user_assigned_selectors_on_v2(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey, options: Callable, parameter: str
) -> None:
    user = next(mi for mi in host.state.managed_identities if mi.kind == "UserAssigned")
    driver = driver_for(host)
    token = acquire(driver, mi_client(fixed_key), options(user))
    assert parameter in query(driver.sent[0])
    assert parameter in query(driver.sent[1])
    assert driver.sent[2].form["client_id"] == user.client_id
    cn = token.binding_certificate.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    assert cn[0].value == user.client_id


def test_certificate_is_reused_but_metadata_is_read_every_time(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    client = mi_client(fixed_key)
    driver = driver_for(host)
    first = acquire(driver, client)
    second = acquire(driver, client)
    assert first.binding_certificate == second.binding_certificate
    assert host.issued() == 1
    assert len(host.state.request_log.entries("imds.getplatformmetadata")) == 2


def test_clear_certificates_makes_the_next_bound_request_issue_a_new_one(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    client = mi_client(fixed_key)
    driver = driver_for(host)
    acquire(driver, client)
    client.clear_certificates()
    acquire(driver, client)
    assert host.issued() == 2


def test_certificate_partitioned_per_identity(host: FakeHost, fixed_key: rsa.RSAPrivateKey) -> None:
    client = mi_client(fixed_key)
    user = next(mi for mi in host.state.managed_identities if mi.kind == "UserAssigned")
    driver = driver_for(host)
    acquire(driver, client)
    acquire(driver, client, ManagedIdentityOptions(user_assigned_client_id=user.client_id))
    assert host.issued() == 2


def test_certificate_too_close_to_expiry_is_reissued(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    """A minimum above the lifetime is capped at half the lifetime: reused at first, issued
    anew past the half (3.5 of 7 days)."""
    client = mi_client(fixed_key, certificate_min_remaining=8 * 86400.0)
    driver = driver_for(host)
    acquire(driver, client)
    acquire(driver, client)
    assert host.issued() == 1
    driver.clock.now += 3.6 * 86400
    acquire(driver, client)
    assert host.issued() == 2


def test_cached_certificate_expires_with_time(host: FakeHost, fixed_key: rsa.RSAPrivateKey) -> None:
    client = mi_client(fixed_key)
    driver = driver_for(host)
    acquire(driver, client)
    driver.clock.now += 6.5 * 86400  # less than 24 h left on a 7-day certificate
    acquire(driver, client)
    assert host.issued() == 2


def invalid_client(request: HttpRequest) -> HttpResponse:
    return response(
        401,
        {
            "error": "invalid_client",
            "error_description": "AADSTS1000610: revoked",
            "error_codes": [1000610],
        },
    )


def test_invalid_client_reissues_the_certificate_once(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    host.token_answers = [invalid_client]
    keys = iter([rsa.generate_private_key(public_exponent=65537, key_size=2048), fixed_key])
    client = ManagedIdentityClient(
        environ={"AZURE_POD_IDENTITY_AUTHORITY_HOST": IMDS}, key_factory=lambda: next(keys)
    )
    token = driver_for(host).run(
        client.token_flow(SYSTEM, "api://r/.default", bound=True, now=time.time())
    )
    assert host.issued() == 2
    first, second = host.token_requests
    assert first.tls_identity != second.tls_identity
    assert token.binding_certificate == second.tls_identity


def test_invalid_client_twice_is_reported(host: FakeHost, fixed_key: rsa.RSAPrivateKey) -> None:
    host.token_answers = [invalid_client, invalid_client]
    with pytest.raises(ServiceError) as caught:
        acquire(driver_for(host), mi_client(fixed_key))
    assert caught.value.error == "invalid_client"
    assert host.issued() == 2


def test_other_token_errors_do_not_reissue(host: FakeHost, fixed_key: rsa.RSAPrivateKey) -> None:
    host.token_answers = [
        lambda r: response(
            400,
            {
                "error": "invalid_scope",
                "error_description": "AADSTS70011: bad",
                "error_codes": [70011],
            },
        )
    ]
    with pytest.raises(ServiceError, match="invalid_scope"):
        acquire(driver_for(host), mi_client(fixed_key))
    assert host.issued() == 1


def test_bearer_instead_of_mtls_pop_fails_closed(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    token = "bearer-token-that-must-not-leak"
    host.token_answers = [
        lambda r: response(
            200, {"token_type": "Bearer", "expires_in": "3599", "access_token": token}
        )
    ]
    with pytest.raises(TokenTypeMismatchError) as caught:
        acquire(driver_for(host), mi_client(fixed_key))
    assert caught.value.actual == "Bearer"
    assert token not in str(caught.value)  # the token never reaches the message


def test_v1_only_host_gives_a_clear_error(host: FakeHost, fixed_key: rsa.RSAPrivateKey) -> None:
    host.imds.v2_enabled = False
    driver = driver_for(host)
    with pytest.raises(ManagedIdentityError, match="only has IMDS v1"):
        acquire(driver, mi_client(fixed_key))
    assert len(driver.sent) == 4  # the IMDS policy's 3 retries, then the v1-only verdict


def test_imds_v2_transient_failures_are_retried(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    host.state.faults.inject(
        "imds.getplatformmetadata", [ScriptedResponse(500), ScriptedResponse(429)]
    )
    host.state.faults.inject("imds.issuecredential", [ScriptedResponse(503)])
    driver = driver_for(host)
    token = acquire(driver, mi_client(fixed_key))
    assert token.token_type == "mtls_pop"
    assert len(driver.sent) == 6


def test_unknown_identity_on_v2(host: FakeHost, fixed_key: rsa.RSAPrivateKey) -> None:
    options = ManagedIdentityOptions(user_assigned_client_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(
        ManagedIdentityError, match=r"getplatformmetadata.*HTTP 400.*Identity not found"
    ):
        acquire(driver_for(host), mi_client(fixed_key), options)


def test_attestation_token_is_sent_and_partitions_the_certificate_cache(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, rsa.RSAPrivateKey]] = []

    class Attestation:
        def get_attestation_token(self, endpoint: str, key: rsa.RSAPrivateKey) -> str:
            seen.append((endpoint, key))
            return host.state.attestation.issue(key.public_key())

    monkeypatch.setattr(host.state, "attestation_mode", AttestationMode.REQUIRED)
    driver = driver_for(host)
    provider = BlockingAttestationProvider(Attestation().get_attestation_token)
    acquire(driver, mi_client(fixed_key, attestation=provider))
    assert seen == [("https://attestation.emulator.invalid", fixed_key)]
    assert driver.sent[1].json_body["attestation_token"].count(".") == 2
    with pytest.raises(ManagedIdentityError, match="Attestation Token is missing"):
        acquire(driver_for(host), mi_client(fixed_key))


def test_csr_the_client_sends_is_what_the_emulator_verified(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    driver = driver_for(host)
    acquire(driver, mi_client(fixed_key))
    csr = x509.load_der_x509_csr(base64.b64decode(driver.sent[1].json_body["csr"]))
    attribute = csr.attributes.get_attribute_for_oid(
        x509.ObjectIdentifier("1.3.6.1.4.1.311.90.2.10")
    )
    assert json.loads(attribute.value) == host.imds.cu_id


# --- parsing edge cases ----------------------------------------------------------------

SERVER = {"Server": "IMDS/150.870.65.1854"}
GOOD = {"cuId": {"vmId": "v"}, "clientId": "c", "tenantId": "t", "attestationEndpoint": "https://a"}


def test_platform_metadata_requires_the_imds_server_header() -> None:
    with pytest.raises(ManagedIdentityError, match="Server header"):
        parse_platform_metadata(response(200, GOOD, {"Server": "nginx"}), ManagedIdentityId())


def test_platform_metadata_tolerates_snake_case() -> None:
    body = {
        "cu_id": {"vmssId": "s"},
        "client_id": "c",
        "tenant_id": "t",
        "attestation_endpoint": "https://a",
    }
    parsed = parse_platform_metadata(response(200, body, SERVER), ManagedIdentityId())
    assert (parsed.client_id, parsed.tenant_id, dict(parsed.cu_id)) == ("c", "t", {"vmssId": "s"})


@pytest.mark.parametrize("missing", ["cuId", "clientId", "tenantId", "attestationEndpoint"])
def test_platform_metadata_requires_all_four_fields(missing: str) -> None:
    body = {k: v for k, v in GOOD.items() if k != missing}
    with pytest.raises(ManagedIdentityError, match=missing):
        parse_platform_metadata(response(200, body, SERVER), ManagedIdentityId())


def test_platform_metadata_rejects_empty_cuid() -> None:
    with pytest.raises(ManagedIdentityError, match="cuId"):
        parse_platform_metadata(
            response(200, {**GOOD, "cuId": {"vmId": ""}}, SERVER), ManagedIdentityId()
        )


def test_issuecredential_missing_fields_and_foreign_keys(
    host: FakeHost, fixed_key: rsa.RSAPrivateKey
) -> None:
    host.state.faults.inject(
        "imds.issuecredential",
        [ScriptedResponse(200, json.dumps({"client_id": "c", "certificate": "x"}), SERVER)],
    )
    with pytest.raises(ManagedIdentityError, match="malformed: missing tenant_id"):
        acquire(driver_for(host), mi_client(fixed_key))
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    foreign = host.state.imds_issuer.issue(other.public_key(), name("x"), days=7)
    body = {
        "client_id": "c",
        "tenant_id": "t",
        "certificate": base64.b64encode(foreign.public_bytes(serialization.Encoding.DER)).decode(),
        "identity_type": "SystemAssigned",
        "mtls_authentication_endpoint": MTLS,
    }
    host.state.faults.inject(
        "imds.issuecredential", [ScriptedResponse(200, json.dumps(body), SERVER)]
    )
    with pytest.raises(ManagedIdentityError, match="not the key of our CSR"):
        acquire(driver_for(host), mi_client(fixed_key))


def test_issue_credential_query_is_form_free(host: FakeHost, fixed_key: rsa.RSAPrivateKey) -> None:
    driver = driver_for(host)
    acquire(driver, mi_client(fixed_key))
    assert driver.sent[1].form is None
    assert parse_qs(driver.sent[1].url.split("?", 1)[1]) == {"cred-api-version": ["2.0"]}
