"""Issue-5 acceptance points that need the real stack (emulator over sockets + HttpTransport).

Retry schedules run at their production values (10 s for a 410, `Retry-After`, the 100 s
deadline) on a fake clock injected into `HttpTransport`, so no test waits. The rest: Service
Fabric's final 404, fail-closed on a Bearer answer to the IMDS v2 leg, no sticky failure through
the public API, AKS workload identity (`SignedAssertionFilePath`) at the login host, what
`probe-mi` says about its choice, and the managed identity seams reachable from the factory.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mi_testkit import managed_identity_settings
from testkit import exchange_token

from identity_web import (
    IdentityWebError,
    ManagedIdentityError,
    TokenAcquirerFactory,
    TokenTypeMismatchError,
)
from identity_web.acquisition import TokenRequestOptions
from identity_web.cli._probe import probe, render_text
from identity_web.managed_identity import BlockingAttestationProvider, ManagedIdentityClient
from identity_web.settings import IdentityWebSettings, ManagedIdentityOptions
from identity_web.transport import HttpTransport

SCOPE = "https://vault.azure.net/.default"
SYSTEM = ManagedIdentityOptions()
API = "MyApi"
EXCHANGE = "api://AzureADTokenExchange"


@dataclass
class FakeTime:
    """A monotonic clock that only moves when the transport sleeps."""

    now: float = 0.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def fake_time_transport(emulator: Any, fake: FakeTime) -> HttpTransport:
    return HttpTransport(ca_bundle=emulator.manifest.ca_bundle, sleep=fake.sleep, clock=fake.clock)


def production_client(imds_env: dict[str, str]) -> ManagedIdentityClient:
    """Real retry delays (scale 1.0): only the fake clock keeps the test fast."""
    return ManagedIdentityClient(environ=imds_env, arc_agent_path="/nonexistent/himds")


def acquire(transport: HttpTransport, mi: ManagedIdentityClient, *, bound: bool = False) -> Any:
    return transport.run(mi.token_flow(SYSTEM, SCOPE, bound=bound, now=time.time()))


# --- §4.3 retry table at production values ---------------------------------------------


def test_gone_is_retried_for_seventy_seconds_then_reported(
    emulator: Any, imds_env: dict[str, str]
) -> None:
    emulator.inject_faults("imds.token", [{"status": 410}] * 8)
    fake = FakeTime()
    with (
        fake_time_transport(emulator, fake) as transport,
        pytest.raises(ManagedIdentityError, match="HTTP 410"),
    ):
        acquire(transport, production_client(imds_env))
    assert fake.sleeps == [10.0] * 7  # "available within 70 s"
    assert len(emulator.requests("imds.token")) == 8


def test_retry_after_is_honoured_over_the_wire(emulator: Any, imds_env: dict[str, str]) -> None:
    emulator.inject_faults(
        "imds.token", [{"status": 429, "headers": {"Retry-After": "7"}}, {"status": 503}]
    )
    fake = FakeTime()
    with fake_time_transport(emulator, fake) as transport:
        assert acquire(transport, production_client(imds_env)).access_token
    assert fake.sleeps == [7.0, 2.0]  # Retry-After replaces 1 s; then the 2nd backoff step
    assert [e["status"] for e in emulator.requests("imds.token")] == [429, 503, 200]


def test_overall_deadline_cuts_retries_short(emulator: Any, imds_env: dict[str, str]) -> None:
    throttled = {"status": 429, "headers": {"Retry-After": "60"}}
    emulator.inject_faults("imds.token", [throttled] * 4)
    fake = FakeTime()
    with (
        fake_time_transport(emulator, fake) as transport,
        pytest.raises(ManagedIdentityError, match="HTTP 429"),
    ):
        acquire(transport, production_client(imds_env))
    # 60 s fits the 100 s deadline, a second 60 s would not: 2 sends, not 4.
    assert fake.sleeps == [60.0]
    assert len(emulator.requests("imds.token")) == 2


def test_service_fabric_404_is_final_but_503_is_retried(emulator: Any) -> None:
    env = emulator.hosting_environment("service_fabric")
    mi = ManagedIdentityClient(environ=env, arc_agent_path="/nonexistent/himds")
    fake = FakeTime()
    with HttpTransport(sleep=fake.sleep, clock=fake.clock) as transport:  # trust = the pin
        emulator.inject_faults("servicefabric.token", [{"status": 404}])
        with pytest.raises(ManagedIdentityError, match=r"ServiceFabric.*HTTP 404"):
            acquire(transport, mi)
        assert len(emulator.requests("servicefabric.token")) == 1
        assert fake.sleeps == []
        emulator.inject_faults("servicefabric.token", [{"status": 503}])
        assert acquire(transport, mi).access_token
    assert fake.sleeps == [1.0]


# --- IMDS v2: fail closed over the wire --------------------------------------------------


def test_bearer_answer_to_the_mtls_leg_fails_closed(
    emulator: Any, transport: HttpTransport, mi: ManagedIdentityClient
) -> None:
    leaked = "a-bearer-token-that-must-not-be-used"
    bearer = {"token_type": "Bearer", "access_token": leaked, "expires_in": "3599"}
    emulator.inject_faults("entra.mtls_token", [{"status": 200, "body": bearer}])
    with pytest.raises(TokenTypeMismatchError) as caught:
        acquire(transport, mi, bound=True)
    assert leaked not in str(caught.value)
    (leg,) = emulator.requests("entra.mtls_token")
    assert leg["form"]["token_type"] == "mtls_pop"


# --- through the public API ----------------------------------------------------------------


def mi_settings(emulator: Any, **api: Any) -> IdentityWebSettings:
    settings: IdentityWebSettings = managed_identity_settings(emulator, API, **api)
    return settings


def test_one_failure_leaves_no_unavailable_state(emulator: Any) -> None:
    emulator.inject_faults("imds.token", [{"status": 400, "body": '{"error":"invalid_request"}'}])
    factory = TokenAcquirerFactory(mi_settings(emulator), environ=emulator.manifest.env())
    with factory.add_downstream_api(API).build() as services:
        with pytest.raises(ManagedIdentityError, match="HTTP 400"):
            services.downstream_api.call(API)
        assert services.downstream_api.call(API).status == 200
    assert [e["status"] for e in emulator.requests("imds.token")] == [400, 200]


@dataclass
class RecordingAttestation:
    authority: Any  # the emulator's attestation authority
    calls: list[str] = field(default_factory=list)

    def get_attestation_token(self, endpoint: str, key: rsa.RSAPrivateKey) -> str:
        self.calls.append(endpoint)
        return str(self.authority.issue(key.public_key()))


def test_attestation_and_certificate_lifetime_are_configurable_through_the_factory(
    emulator: Any,
) -> None:
    attestation = RecordingAttestation(emulator.state.attestation)
    factory = TokenAcquirerFactory(
        mi_settings(emulator, ProtocolScheme="MTLS_POP"), environ=emulator.manifest.env()
    )
    factory.container.managed_identity.add_kwargs(
        attestation=BlockingAttestationProvider(attestation.get_attestation_token),
        certificate_min_remaining=8 * 86400.0,
    )
    with factory.add_downstream_api(API).build() as services:
        assert services.downstream_api.call(API).status == 200
        again = services.token_acquirer.acquire_token_for_app(
            emulator.manifest.resource.scope,
            TokenRequestOptions(managed_identity=SYSTEM, force_refresh=True),
            bound=True,
        )
    assert again.token_type == "mtls_pop"
    assert attestation.calls == [emulator.manifest.attestation_endpoint]
    # 7-day certificates never have 8 days left, but a certificate is kept until half of its
    # own lifetime is gone: the second acquisition reused it.
    assert len(emulator.requests("imds.issuecredential")) == 1


# --- AKS workload identity: SignedAssertionFilePath -------------------------------------


def workload_identity_services(emulator: Any, token_file: Path) -> Any:
    manifest = emulator.manifest
    settings = IdentityWebSettings.from_mapping(
        {
            "AzureAd": {
                "Instance": manifest.instance,
                "TenantId": manifest.tenant_id,
                "ClientId": manifest.apps[0].client_id,
                "ClientCredentials": [{"SourceType": "SignedAssertionFilePath"}],
            },
            API: {
                "BaseUrl": manifest.resource.base_url,
                "RelativePath": "whoami",
                "Scopes": [manifest.resource.scope],
                "RequestAppToken": True,
            },
        }
    )
    environ = {**manifest.env(), "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    return TokenAcquirerFactory(settings, environ=environ).add_downstream_api(API).build()


def refresh(services: Any, emulator: Any) -> Any:
    return services.token_acquirer.acquire_token_for_app(
        emulator.manifest.resource.scope, TokenRequestOptions(force_refresh=True)
    )


def test_workload_identity_token_file_reaches_the_login_host(emulator: Any, tmp_path: Path) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(exchange_token(emulator, lifetime=3600))
    with workload_identity_services(emulator, token_file) as services:
        response = services.downstream_api.call(API)
        assert response.status == 200
        assert response.json()["appid"] == emulator.manifest.apps[0].client_id
        token_file.write_text("not-a-jwt")  # rotated badly: not read again within 10 min
        assert refresh(services, emulator).access_token
    posts = emulator.requests("entra.token")
    assert [p["form"]["client_assertion_type"] for p in posts] == [
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ] * 2


def test_workload_identity_file_is_read_again_before_its_assertion_expires(
    emulator: Any, tmp_path: Path
) -> None:
    token_file = tmp_path / "azure-identity-token"
    token_file.write_text(exchange_token(emulator, lifetime=240))  # inside the 5 min margin
    with workload_identity_services(emulator, token_file) as services:
        assert services.downstream_api.call(API).status == 200
        token_file.write_text("not-a-jwt")
        with pytest.raises(IdentityWebError, match="does not hold a JWT"):
            refresh(services, emulator)  # the near-expiry assertion made it read the file again
        token_file.write_text(exchange_token(emulator, lifetime=3600))
        assert refresh(services, emulator).access_token  # the rotated file is picked up
        token_file.write_text("not-a-jwt")
        assert refresh(services, emulator).access_token  # long-lived: no re-read for 10 min


# --- probe-mi says what it chose and why -------------------------------------------------


def test_probe_reports_the_source_and_why(emulator: Any) -> None:
    arc = emulator.hosting_environment("arc")
    imds = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": emulator.manifest.imds_endpoint}
    with HttpTransport() as transport:
        on_arc = probe({**imds, **arc}, transport, arc_agent_path="/nonexistent")
        on_vm = probe(imds, transport, arc_agent_path="/nonexistent")
    assert on_arc.source == "AzureArc"
    assert on_arc.reason == "IDENTITY_ENDPOINT and IMDS_ENDPOINT are set"
    assert set(on_arc.variables) == {"IDENTITY_ENDPOINT", "IMDS_ENDPOINT"}
    assert on_vm.source == "IMDS"
    assert "AZURE_POD_IDENTITY_AUTHORITY_HOST is set" in on_vm.reason
    text = render_text(on_arc)
    assert "Managed identity source: AzureArc" in text
    assert "because:  IDENTITY_ENDPOINT and IMDS_ENDPOINT are set" in text
