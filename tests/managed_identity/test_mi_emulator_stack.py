"""Managed identity over the real stack: the emulator's IMDS and mtlsauth hosts, HttpTransport.

Retries run against fault injection with delays scaled to milliseconds; every test is fast.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from identity_web import ManagedIdentityError, ServiceError
from identity_web.managed_identity import ManagedIdentityClient, SoftwareAttestationProvider
from identity_web.protocol import TokenResponse
from identity_web.settings import ManagedIdentityOptions
from identity_web.transport import HttpTransport

SCOPE = "https://vault.azure.net/.default"
SYSTEM = ManagedIdentityOptions()


def claims(token: TokenResponse) -> dict[str, Any]:
    return jwt.decode(token.access_token, options={"verify_signature": False})


def user_assigned(emulator: Any) -> Any:
    return next(mi for mi in emulator.state.managed_identities if mi.kind == "UserAssigned")


def system_assigned(emulator: Any) -> Any:
    return emulator.state.find_managed_identity()


def acquire(
    transport: HttpTransport,
    mi: ManagedIdentityClient,
    options: ManagedIdentityOptions = SYSTEM,
    *,
    bound: bool = False,
    scope: str = SCOPE,
) -> TokenResponse:
    return transport.run(mi.token_flow(options, scope, bound=bound, now=time.time()))


# --- IMDS v1 (Bearer) --------------------------------------------------------------------


def test_system_assigned_bearer(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    token = acquire(transport, mi)
    assert token.token_type == "Bearer"
    assert token.binding_certificate is None
    payload = claims(token)
    assert payload["appid"] == system_assigned(emulator).client_id
    assert payload["aud"] == "https://vault.azure.net"
    assert "cnf" not in payload
    assert token.refresh_on is not None
    assert token.refresh_on < token.expires_on
    (entry,) = emulator.requests("imds.token")
    assert entry["headers"]["metadata"] == "true"
    assert entry["query"]["api-version"] == "2018-02-01"


@pytest.mark.parametrize(
    "selector", ["client_id", "object_id", "resource_id", "resource_id_as_client_id"]
)
def test_user_assigned_bearer(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient, selector: str
) -> None:
    user = user_assigned(emulator)
    options = {
        "client_id": ManagedIdentityOptions(user_assigned_client_id=user.client_id),
        "object_id": ManagedIdentityOptions(user_assigned_object_id=user.object_id),
        "resource_id": ManagedIdentityOptions(user_assigned_resource_id=user.resource_id),
        "resource_id_as_client_id": ManagedIdentityOptions(
            user_assigned_client_id=user.resource_id
        ),
    }[selector]
    token = acquire(transport, mi, options)
    assert claims(token)["appid"] == user.client_id
    assert claims(token)["oid"] == user.object_id


def test_unassigned_identity_names_the_selector(
    transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    options = ManagedIdentityOptions(user_assigned_client_id="11111111-2222-3333-4444-555555555555")
    with pytest.raises(
        ManagedIdentityError, match="client_id=11111111-2222-3333-4444-555555555555"
    ):
        acquire(transport, mi, options)


def test_unknown_resource_is_a_service_error_with_aadsts(
    transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    with pytest.raises(ServiceError) as caught:
        acquire(transport, mi, scope="api://unknown-resource/.default")
    assert caught.value.has_code(500011)


@pytest.mark.parametrize(
    "fault",
    [
        {"status": 404},
        {"status": 410, "body": "IMDS is updating"},
        {"status": 429, "headers": {"Retry-After": "1"}},
        {"status": 500, "body": '{"error": "server_error"}'},
        {"status": 503},
    ],
)
def test_transient_imds_answers_are_retried(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient, fault: dict[str, Any]
) -> None:
    emulator.inject_faults("imds.token", [fault, fault])
    started = time.monotonic()
    token = acquire(transport, mi)
    assert token.access_token
    assert [e["status"] for e in emulator.requests("imds.token")] == [fault["status"]] * 2 + [200]
    assert time.monotonic() - started < 2.0


def test_retry_exhaustion_reports_the_last_answer(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    emulator.inject_faults("imds.token", [{"status": 500, "body": "boom"}] * 5)
    with pytest.raises(ManagedIdentityError, match="HTTP 500"):
        acquire(transport, mi)
    assert len(emulator.requests("imds.token")) == 4  # 1 + 3 retries
    emulator.clear_faults()
    assert acquire(transport, mi).access_token  # nothing remembers the failure


def test_gone_is_retried_up_to_seven_times(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    emulator.inject_faults("imds.token", [{"status": 410}] * 7)
    assert acquire(transport, mi).access_token
    assert len(emulator.requests("imds.token")) == 8


def test_bad_request_is_not_retried(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    emulator.inject_faults("imds.token", [{"status": 400, "body": '{"error":"invalid_request"}'}])
    with pytest.raises(ManagedIdentityError, match="HTTP 400"):
        acquire(transport, mi)
    assert len(emulator.requests("imds.token")) == 1


async def test_async_driver_runs_the_same_flow(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    emulator.inject_faults("imds.token", [{"status": 503}])
    token = await transport.run_async(mi.token_flow(SYSTEM, SCOPE, bound=False, now=time.time()))
    assert token.token_type == "Bearer"


# --- IMDS v2 (mTLS PoP) ------------------------------------------------------------------


def test_system_assigned_mtls_pop(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    token = acquire(transport, mi, bound=True)
    assert token.token_type == "mtls_pop"
    binding = token.binding_certificate
    assert binding is not None
    assert emulator.state.imds_issuer.issued(binding.certificate)
    payload = claims(token)
    assert payload["cnf"] == {"x5t#S256": binding.x5t_s256}
    assert payload["appid"] == system_assigned(emulator).client_id
    (leg,) = emulator.requests("entra.mtls_token")
    assert leg["client_cert_x5t_s256"] == binding.x5t_s256
    assert leg["form"]["token_type"] == "mtls_pop"
    assert token.token_endpoint.startswith(emulator.manifest.mtls_token_endpoint_base)
    for entry in emulator.requests("imds.getplatformmetadata") + emulator.requests(
        "imds.issuecredential"
    ):
        assert entry["client_cert_x5t_s256"] is None  # IMDS never sees the binding certificate


async def test_mtls_pop_async(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    token = await transport.run_async(mi.token_flow(SYSTEM, SCOPE, bound=True, now=time.time()))
    assert claims(token)["cnf"]["x5t#S256"] == token.binding_certificate.x5t_s256


@pytest.mark.parametrize("selector", ["client_id", "object_id", "resource_id"])
def test_user_assigned_mtls_pop(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient, selector: str
) -> None:
    user = user_assigned(emulator)
    options = {
        "client_id": ManagedIdentityOptions(user_assigned_client_id=user.client_id),
        "object_id": ManagedIdentityOptions(user_assigned_object_id=user.object_id),
        "resource_id": ManagedIdentityOptions(user_assigned_resource_id=user.resource_id),
    }[selector]
    token = acquire(transport, mi, options, bound=True)
    assert claims(token)["appid"] == user.client_id
    assert claims(token)["cnf"]["x5t#S256"] == token.binding_certificate.x5t_s256


def test_cached_certificate_is_reused(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    first = acquire(transport, mi, bound=True)
    second = acquire(transport, mi, bound=True)
    assert first.binding_certificate == second.binding_certificate
    assert len(emulator.requests("imds.issuecredential")) == 1
    assert len(emulator.requests("imds.getplatformmetadata")) == 2


def test_certificate_near_expiry_is_reissued(
    emulator: Any, transport: HttpTransport, imds_env: dict[str, str]
) -> None:
    """With less than a day left (of 7), a certificate is issued anew."""
    mi = ManagedIdentityClient(
        environ=imds_env, retry_scale=0.001, attestation=SoftwareAttestationProvider()
    )
    first = acquire(transport, mi, bound=True)
    later = time.time() + 6.5 * 86400
    second = transport.run(mi.token_flow(SYSTEM, SCOPE, bound=True, now=later))
    assert first.binding_certificate != second.binding_certificate
    assert len(emulator.requests("imds.issuecredential")) == 2


def test_invalid_client_reissues_once(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    rejected = {
        "status": 401,
        "body": {
            "error": "invalid_client",
            "error_description": "AADSTS1000610: certificate revoked",
            "error_codes": [1000610],
        },
    }
    emulator.inject_faults("entra.mtls_token", [rejected])
    token = acquire(transport, mi, bound=True)
    assert token.token_type == "mtls_pop"
    assert len(emulator.requests("imds.issuecredential")) == 2
    legs = emulator.requests("entra.mtls_token")
    assert [e["status"] for e in legs] == [401, 200]
    assert legs[0]["client_cert_x5t_s256"] != legs[1]["client_cert_x5t_s256"]
    assert legs[1]["client_cert_x5t_s256"] == token.binding_certificate.x5t_s256


def test_invalid_client_twice_gives_up(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    rejected = {"status": 401, "body": {"error": "invalid_client", "error_codes": [1000610]}}
    emulator.inject_faults("entra.mtls_token", [rejected, rejected])
    with pytest.raises(ServiceError, match="invalid_client"):
        acquire(transport, mi, bound=True)
    assert len(emulator.requests("imds.issuecredential")) == 2


def test_v2_endpoints_are_retried(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    emulator.inject_faults(
        "imds.getplatformmetadata",
        [{"status": 500}, {"status": 429, "headers": {"Retry-After": "1"}}],
    )
    emulator.inject_faults("imds.issuecredential", [{"status": 410}])
    started = time.monotonic()
    assert acquire(transport, mi, bound=True).token_type == "mtls_pop"
    assert time.monotonic() - started < 3.0


def test_v1_only_host_by_fault(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    emulator.inject_faults("imds.getplatformmetadata", [{"status": 404}] * 4)
    with pytest.raises(ManagedIdentityError, match="only has IMDS v1"):
        acquire(transport, mi, bound=True)
    assert len(emulator.requests("imds.getplatformmetadata")) == 4  # 3 retries, as MSAL.NET


def test_bearer_over_a_resource_without_bound_tokens_fails_at_ests(
    transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    with pytest.raises(ServiceError) as caught:
        acquire(transport, mi, bound=True, scope="https://management.azure.com/.default")
    assert caught.value.has_code(392196)
