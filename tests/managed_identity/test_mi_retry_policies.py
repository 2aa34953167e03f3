"""Retry policies of the managed identity endpoints (wire-protocol §4.3), with fake time."""

from __future__ import annotations

import pytest
from mi_testkit import FakeDriver, NoAnswerError, response, scripted

from identity_web.protocol import HttpRequest
from identity_web.protocol.imds import imds_probe_request
from identity_web.protocol.imds_v2 import platform_metadata_probe_request
from identity_web.protocol.retry import (
    ImdsRetryPolicy,
    LinearRetryPolicy,
    imds_policy,
    managed_identity_default_policy,
    retry_after_seconds,
    service_fabric_policy,
    sts_policy,
)


def delays(policy: object, statuses: list[int | None], headers: dict[str, str] | None = None):
    """The delays a driver would sleep for a run of answers, until the policy stops."""
    out: list[float] = []
    elapsed = 0.0
    for attempt, status in enumerate(statuses, start=1):
        answer = None if status is None else response(status, headers=headers)
        delay = policy.next_delay(attempt, answer, elapsed)  # type: ignore[attr-defined]
        if delay is None:
            break
        out.append(delay)
        elapsed += delay
    return out


@pytest.mark.parametrize("status", [404, 408, 429, 500, 503, 504, 599])
def test_imds_retries_transient_statuses_exponentially_three_times(status: int) -> None:
    assert delays(imds_policy(), [status] * 10) == [1.0, 2.0, 4.0]


def test_imds_gone_is_retried_seven_times_ten_seconds_apart() -> None:
    assert delays(imds_policy(), [410] * 20) == [10.0] * 7


@pytest.mark.parametrize("status", [200, 400, 401, 403])
def test_imds_does_not_retry_final_answers(status: int) -> None:
    assert delays(imds_policy(), [status]) == []


def test_imds_retries_a_send_without_an_answer_once() -> None:
    assert delays(imds_policy(), [None] * 10) == [1.0]


def test_retry_after_replaces_the_backoff_and_is_capped() -> None:
    assert delays(imds_policy(), [429, 429], {"Retry-After": "7"}) == [7.0, 7.0]
    capped = ImdsRetryPolicy(max_retry_after=3.0)
    assert delays(capped, [429], {"Retry-After": "120"}) == [3.0]


def test_retry_after_http_date_is_measured_against_the_date_header() -> None:
    answer = response(
        503,
        headers={
            "Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT",
            "Date": "Wed, 21 Oct 2015 07:28:00 GMT",
        },
    )
    assert retry_after_seconds(answer) == 5.0
    assert retry_after_seconds(response(503, headers={"Retry-After": "soon"})) is None
    no_date = response(503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:05 GMT"})
    assert retry_after_seconds(no_date) is None


def test_overall_deadline_bounds_every_retry() -> None:
    policy = ImdsRetryPolicy(deadline=25.0)
    assert delays(policy, [410] * 20) == [10.0, 10.0]


def test_scale_shrinks_delays_but_not_counts() -> None:
    assert delays(imds_policy(0.001), [500] * 10) == pytest.approx([0.001, 0.002, 0.004])
    assert len(delays(imds_policy(0.001), [410] * 20)) == 7


def test_probe_requests_are_never_retried() -> None:
    base = "http://127.0.0.1:9"
    assert imds_probe_request(base, 1.0).retry is None
    assert platform_metadata_probe_request(base, 1.0).retry is None


@pytest.mark.parametrize("status", [404, 408, 429, 500, 503, 504])
def test_default_policy_is_three_linear_one_second_retries(status: int) -> None:
    assert delays(managed_identity_default_policy(), [status] * 10) == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("status", [410, 502, 400])
def test_default_policy_ignores_other_statuses(status: int) -> None:
    assert delays(managed_identity_default_policy(), [status]) == []


def test_default_policy_honours_retry_after() -> None:
    assert delays(managed_identity_default_policy(), [429], {"Retry-After": "2"}) == [2.0]


def test_service_fabric_never_retries_404() -> None:
    assert delays(service_fabric_policy(), [404]) == []
    assert delays(service_fabric_policy(), [503] * 5) == [1.0, 1.0, 1.0]


def test_sts_policy_retries_5xx_once_unless_retry_after_was_sent() -> None:
    assert delays(sts_policy(), [500, 500, 500]) == [1.0]
    assert delays(sts_policy(), [503], {"Retry-After": "1"}) == []
    assert delays(sts_policy(), [429]) == []


def test_linear_policy_deadline() -> None:
    policy = LinearRetryPolicy(delay=10.0, deadline=15.0)
    assert delays(policy, [500] * 5) == [10.0]


def test_driver_applies_the_policy_and_hands_the_last_answer_to_the_flow() -> None:
    request = HttpRequest("GET", "http://imds/x", retry=imds_policy())
    driver = FakeDriver(scripted(response(500), response(503), response(500), response(502)))
    assert driver.send(request).status == 502
    assert driver.clock.sleeps == [1.0, 2.0, 4.0]
    assert len(driver.sent) == 4


def test_driver_gives_up_on_silence() -> None:
    request = HttpRequest("GET", "http://imds/x", retry=imds_policy())
    driver = FakeDriver(scripted(None, None))
    with pytest.raises(NoAnswerError):
        driver.send(request)
    assert driver.clock.sleeps == [1.0]


def test_gone_first_then_other_statuses_each_keep_their_own_limit() -> None:
    """A deliberate difference from MSAL.NET, which fixes the retry count by the first answer:
    here each answer's own limit applies (a 500 after a 410 gets the exponential three)."""
    policy = imds_policy()
    assert policy.next_delay(1, response(410), 0.0) == 10.0
    assert policy.next_delay(2, response(500), 10.0) == 2.0
    assert policy.next_delay(4, response(500), 16.0) is None
