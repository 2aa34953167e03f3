"""The IMDS retry policy on both IMDS v2 credential endpoints, as MSAL.NET applies it
(`ImdsRetryPolicy` over `HttpRetryConditions.Imds` for `getplatformmetadata` and
`issuecredential`): 404, 408, 429 and 5xx three times after 1 s, 2 s, 4 s; 410 seven times
10 s apart; 400 never. A 404 from `getplatformmetadata` that outlives the retries means a
v1-only host. Each case runs the whole bound flow on a fake clock, with full-size delays."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from mi_testkit import (
    FakeClock,
    FakeDriver,
    from_emulator_response,
    response,
    to_emulator_request,
)

from identity_web import ManagedIdentityError
from identity_web.emulator import EmulatorConfig
from identity_web.emulator._demo_tenant import build_default_state
from identity_web.emulator._recording import ScriptedResponse
from identity_web.emulator._state import EmulatorState
from identity_web.emulator.imds import ImdsService
from identity_web.managed_identity import ManagedIdentityClient
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.settings import ManagedIdentityOptions

IMDS = "http://127.0.0.1:9"
METADATA = "imds.getplatformmetadata"
ISSUE = "imds.issuecredential"
EXPONENTIAL = [1.0, 2.0, 4.0]


@pytest.fixture(scope="module")
def state() -> EmulatorState:
    state = build_default_state(EmulatorConfig(attestation_mode="off"))
    state.urls.mtls_base = "https://127.0.0.1:10/"
    return state


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def run(state: EmulatorState, key: rsa.RSAPrivateKey, endpoint: str, statuses: list[int]):
    """The bound flow with `statuses` scripted on `endpoint`: (driver, token or error)."""
    state.request_log.clear()
    state.faults.clear()
    state.faults.inject(endpoint, [ScriptedResponse(status) for status in statuses])
    imds = ImdsService(state)

    def answer(request: HttpRequest) -> HttpResponse:
        if request.url.startswith(IMDS):
            return from_emulator_response(imds.handle(to_emulator_request(request)), request.url)
        return response(200, {"token_type": "mtls_pop", "expires_in": "3599", "access_token": "a"})

    driver = FakeDriver(answer, FakeClock(time.time()))
    client = ManagedIdentityClient(
        environ={"AZURE_POD_IDENTITY_AUTHORITY_HOST": IMDS},
        key_factory=lambda: key,
        arc_agent_path="/nonexistent/himds",
    )
    step = client.token_flow(
        ManagedIdentityOptions(), "api://r/.default", bound=True, now=driver.clock.now
    )
    try:
        return driver, driver.run(step)
    except ManagedIdentityError as error:
        return driver, error


def sends(state: EmulatorState, endpoint: str) -> int:
    return len(state.request_log.entries(endpoint))


TRANSIENT = [404, 408, 429, 500, 503, 504, 599]


@dataclass(frozen=True)
class Case:
    answers: list[int]  # scripted on the endpoint, then normal service
    succeeds: bool
    sleeps: list[float]
    sent: int  # requests to the endpoint, retries included


CASES = {
    **{f"{status}x3": Case([status] * 3, True, EXPONENTIAL, 4) for status in TRANSIENT},
    "410x7": Case([410] * 7, True, [10.0] * 7, 8),
    "400": Case([400], False, [], 1),
    "503x4": Case([503] * 4, False, EXPONENTIAL, 4),
}


@pytest.mark.parametrize("endpoint", [METADATA, ISSUE])
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_each_status_gets_the_imds_schedule(
    state: EmulatorState, key: rsa.RSAPrivateKey, endpoint: str, case: Case
) -> None:
    """404/408/429/5xx: three retries after 1, 2, 4 s; 410: seven, 10 s apart; 400: none.
    When the retries run out, the last answer is the error."""
    driver, result = run(state, key, endpoint, case.answers)
    assert isinstance(result, ManagedIdentityError) is not case.succeeds
    if not case.succeeds:
        assert f"HTTP {case.answers[-1]}" in str(result)
    assert driver.clock.sleeps == case.sleeps
    assert sends(state, endpoint) == case.sent


def test_a_lasting_404_from_getplatformmetadata_means_a_v1_only_host(
    state: EmulatorState, key: rsa.RSAPrivateKey
) -> None:
    driver, result = run(state, key, METADATA, [404] * 4)
    assert isinstance(result, ManagedIdentityError)
    assert "only has IMDS v1" in str(result)
    assert driver.clock.sleeps == EXPONENTIAL
    assert sends(state, METADATA) == 4
    assert sends(state, ISSUE) == 0
