"""Recovery of the IMDS v2 certificate on the mTLS token leg: a rejection because of the
certificate (invalid_client, an AADSTS certificate code, a TLS failure) re-issues it once and
retries once, never more; a certificate is reused until half of its own lifetime is gone,
however short that lifetime is."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mi_testkit import managed_identity_settings

from identity_web import NetworkError, ServiceError, TokenAcquirerFactory
from identity_web.acquisition._options import TokenRequestOptions
from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.managed_identity import SoftwareAttestationProvider
from identity_web.settings import IdentityWebSettings, ManagedIdentityOptions

API = "MyApi"
SYSTEM = ManagedIdentityOptions()


def refusal(code: int, error: str = "invalid_client") -> dict[str, Any]:
    body = {"error": error, "error_description": f"AADSTS{code}: refused", "error_codes": [code]}
    return {"status": 401, "body": json.dumps(body)}


def services(emulator: Emulator, environ: dict[str, str] | None = None) -> Any:
    settings = managed_identity_settings(emulator, API, ProtocolScheme="MTLS_POP")
    env = environ if environ is not None else emulator.manifest.env()
    factory = TokenAcquirerFactory(settings, environ=env)
    factory.container.managed_identity.add_kwargs(
        retry_scale=0.001, attestation=SoftwareAttestationProvider()
    )
    return factory.add_downstream_api(API).build()


@pytest.mark.parametrize(
    "fault",
    [refusal(7000218), refusal(1000502, "invalid_request"), {"status": None, "delay_ms": 0}],
    ids=["invalid_client", "aadsts-certificate-code", "served"],
)
def test_a_certificate_rejection_reissues_once_and_retries_once(
    emulator: Emulator, fault: dict[str, Any]
) -> None:
    emulator.inject_faults("entra.mtls_token", [fault])
    with services(emulator) as built:
        assert built.downstream_api.call(API).status == 200
    rejected = fault.get("status") is not None
    assert len(emulator.requests("imds.issuecredential")) == (2 if rejected else 1)
    tokens = emulator.requests("entra.mtls_token")
    assert len(tokens) == (2 if rejected else 1)
    if rejected:
        assert tokens[0]["client_cert_x5t_s256"] != tokens[1]["client_cert_x5t_s256"]


def test_the_retry_is_bounded_a_second_rejection_is_raised(emulator: Emulator) -> None:
    emulator.inject_faults("entra.mtls_token", [refusal(7000218)] * 3)
    with services(emulator) as built, pytest.raises(ServiceError, match="AADSTS7000218") as raised:
        built.downstream_api.call(API)
    assert "[what to check:" in str(raised.value), (
        "the managed identity's mTLS leg says what to check"
    )
    assert len(emulator.requests("imds.issuecredential")) == 2
    assert len(emulator.requests("entra.mtls_token")) == 2


def test_a_tls_failure_on_the_token_leg_reissues_once(emulator: Emulator) -> None:
    """The regional mTLS host (as IMDS at 169.254.169.254 names it) is routed to a listener
    whose certificate does not name it: every handshake fails verification. One new
    certificate, one more try, then the error."""
    manifest = emulator.manifest
    environ = manifest.env()
    environ.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    login = manifest.resolve["login.microsoftonline.com:443"]
    environ["IDENTITY_WEB_CONNECT_TO"] += f",westus3.mtlsauth.microsoft.com:443={login}"
    with services(emulator, environ) as built, pytest.raises(NetworkError, match="CERTIFICATE"):
        built.downstream_api.call(API)
    assert len(emulator.requests("imds.issuecredential")) == 2
    assert emulator.requests("entra.mtls_token") == []


def test_a_short_lived_certificate_is_reused_until_half_its_lifetime() -> None:
    with Emulator(EmulatorConfig(imds_certificate_days=0.25)) as emulator:  # 6 hours
        with services(emulator) as built:
            for _ in range(2):
                built.token_acquirer.acquire_token_for_app(
                    emulator.manifest.resource.scope,
                    TokenRequestOptions(managed_identity=SYSTEM, force_refresh=True),
                    bound=True,
                )
        assert len(emulator.requests("imds.issuecredential")) == 1
        assert len(emulator.requests("entra.mtls_token")) == 2


# --- FIC: leg 2 refused because of the IMDS v2 certificate ---------------------------------
#
# Leg 1 (the managed identity's token) and leg 2 (the app's) both go to the mtlsauth host
# (`entra.mtls_token`); `PASS` serves one request normally, so each refusal lands on leg 2.

PASS: dict[str, Any] = {"status": None}
TLS_FAILURE: dict[str, Any] = {"status": None, "kind": "tls_alert"}


def fic_services(emulator: Emulator, *, scheme: str, use_bound_credential: bool) -> Any:
    manifest = emulator.manifest
    entry: dict[str, Any] = {"SourceType": "SignedAssertionFromManagedIdentity"}
    if use_bound_credential:
        entry["UseBoundCredential"] = True
    config = {
        "AzureAd": {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": manifest.apps[0].client_id,
            "ClientCredentials": [entry],
            "ManagedIdentity": {"Attestation": "Software"},
        },
        API: {
            "BaseUrl": manifest.resource.base_url,
            "RelativePath": "whoami",
            "Scopes": [manifest.resource.scope],
            "RequestAppToken": True,
            "ProtocolScheme": scheme,
        },
    }
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=manifest.env())
    factory.container.managed_identity.add_kwargs(retry_scale=0.001)
    return factory.add_downstream_api(API).build()


BOUND_FIC = [("MTLS_POP", False), ("Bearer", True)]
BOUND_FIC_IDS = ["mtls-pop", "use-bound-credential"]


@pytest.mark.parametrize(("scheme", "use_bound_credential"), BOUND_FIC, ids=BOUND_FIC_IDS)
@pytest.mark.parametrize(
    "rejection",
    [refusal(7000218), refusal(1000502, "invalid_request"), TLS_FAILURE],
    ids=["invalid_client", "aadsts-certificate-code", "tls-failure"],
)
def test_a_leg_2_rejection_of_the_certificate_reissues_it_once_and_succeeds(
    emulator: Emulator, scheme: str, use_bound_credential: bool, rejection: dict[str, Any]
) -> None:
    emulator.inject_faults("entra.mtls_token", [PASS, rejection])
    with fic_services(emulator, scheme=scheme, use_bound_credential=use_bound_credential) as built:
        response = built.downstream_api.call(API)
    assert response.status == 200
    issued = emulator.requests("imds.issuecredential")
    assert len(issued) == 2
    posts = emulator.requests("entra.mtls_token")
    assert len(posts) == 4  # leg 1, leg 2 (refused), leg 1 again, leg 2 again
    assert posts[0]["client_cert_x5t_s256"] == posts[1]["client_cert_x5t_s256"]
    assert posts[2]["client_cert_x5t_s256"] == posts[3]["client_cert_x5t_s256"]
    assert posts[1]["client_cert_x5t_s256"] != posts[3]["client_cert_x5t_s256"]
    assert len(emulator.requests("attestation.attest")) == 2  # the new key is attested too


@pytest.mark.parametrize(("scheme", "use_bound_credential"), BOUND_FIC, ids=BOUND_FIC_IDS)
@pytest.mark.parametrize(
    ("rejection", "error"),
    [(refusal(7000218), ServiceError), (refusal(700027), ServiceError), (TLS_FAILURE, None)],
    ids=["invalid_client", "reload-code", "tls-failure"],
)
def test_repeated_leg_2_rejections_issue_two_certificates_then_a_typed_error(
    emulator: Emulator,
    scheme: str,
    use_bound_credential: bool,
    rejection: dict[str, Any],
    error: type[Exception] | None,
) -> None:
    emulator.inject_faults("entra.mtls_token", [PASS, rejection, PASS, rejection, rejection])
    expected = error or NetworkError
    with (
        fic_services(emulator, scheme=scheme, use_bound_credential=use_bound_credential) as built,
        pytest.raises(expected),
    ):
        built.downstream_api.call(API)
    assert len(emulator.requests("imds.issuecredential")) == 2
    assert len(emulator.requests("entra.mtls_token")) == 4


async def test_the_async_driver_runs_the_same_recovery(emulator: Emulator) -> None:
    emulator.inject_faults("entra.mtls_token", [PASS, refusal(7000218)])
    async with fic_services(emulator, scheme="MTLS_POP", use_bound_credential=False) as built:
        response = await built.downstream_api.call_async(API)
    assert (response.status, response.token_type) == (200, "mtls_pop")
    assert len(emulator.requests("imds.issuecredential")) == 2


def test_a_federation_mismatch_on_leg_2_is_not_a_certificate_problem(emulator: Emulator) -> None:
    mismatch = refusal(70021, "invalid_request")
    emulator.inject_faults("entra.mtls_token", [PASS, mismatch])
    with (
        fic_services(emulator, scheme="MTLS_POP", use_bound_credential=False) as built,
        pytest.raises(ServiceError, match="AADSTS70021"),
    ):
        built.downstream_api.call(API)
    assert len(emulator.requests("imds.issuecredential")) == 1
