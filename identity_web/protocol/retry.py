"""Retry policies for managed identity endpoints (wire-protocol §4.3), as sans-IO values.

A policy only decides: given how many sends happened, the last answer (None when the send got
no HTTP answer) and the seconds elapsed since the first send, it returns the delay before the
next send or None to stop. The transport sleeps; the policy never looks at a clock.

Every policy is bounded twice: by a retry count and by an overall deadline, so that no
acquisition waits longer than `deadline` seconds in total. `scale` multiplies every delay
(tests use a tiny scale so that retries take milliseconds); it never changes the counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from identity_web.protocol._http import HttpResponse

logger = logging.getLogger(__name__)

IMDS_RETRY_STATUSES = frozenset({404, 408, 410, 429, *range(500, 600)})
"""IMDS: 404 and 410 mean "IMDS is updating", 429 throttled, 5xx transient (§4.2, §4.3).

MSAL.NET's `HttpRetryConditions.Imds`, which its `ImdsRetryPolicy` applies to the IMDS v1 token
and to both IMDS v2 credential endpoints (`getplatformmetadata`, `issuecredential`) alike: a 404
from `getplatformmetadata` is retried too, and only the 404 left after the retries means "this
host has IMDS v1 only". Its probes (no `Metadata` header) leave 404 out; ours are not retried."""

MANAGED_IDENTITY_DEFAULT_STATUSES = frozenset({404, 408, 429, 500, 503, 504})
"""MSAL.NET `DefaultRetryPolicy(ManagedIdentityDefault)`: App Service, Arc, Cloud Shell, ML."""

SERVICE_FABRIC_STATUSES = MANAGED_IDENTITY_DEFAULT_STATUSES - {404}
"""Service Fabric documents that a 404 must not be retried."""

GONE = 410


def retry_after_seconds(response: HttpResponse) -> float | None:
    """The `Retry-After` header as seconds: delta-seconds or an HTTP-date.

    An HTTP-date is measured against the response's own `Date` header (no clock is read); a
    date without a `Date` header to compare with, or an unparsable value, is ignored.
    """
    value = response.header("retry-after").strip()
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
        sent = parsedate_to_datetime(response.header("date"))
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - sent).total_seconds())


def _fits(delay: float, elapsed: float, deadline: float) -> float | None:
    """The delay, or None when sleeping it would pass the overall deadline."""
    if elapsed + delay > deadline:
        logger.debug("retry budget of %.1f s exhausted after %.1f s", deadline, elapsed)
        return None
    return delay


@dataclass(frozen=True, slots=True)
class ImdsRetryPolicy:
    """IMDS (v1 token, v2 metadata and issuecredential, compute metadata).

    Exponential 1 s, 2 s, 4 s for 404/408/429/5xx, 3 retries; a 410 ("available within
    70 s") is retried up to 7 times, 10 s apart. A `Retry-After` header replaces the computed
    delay (capped at `max_retry_after`). A send without an answer (timeout, refused) is retried
    `no_answer_retries` times (once), so a host without IMDS fails fast.
    """

    retries: int = 3
    base_delay: float = 1.0
    max_delay: float = 4.0
    gone_retries: int = 7
    gone_delay: float = 10.0
    statuses: frozenset[int] = IMDS_RETRY_STATUSES
    no_answer_retries: int = 1
    max_retry_after: float = 60.0
    deadline: float = 100.0
    scale: float = 1.0

    def next_delay(
        self, attempt: int, response: HttpResponse | None, elapsed: float
    ) -> float | None:
        if response is None:
            if attempt > self.no_answer_retries:
                return None
            return _fits(self._backoff(attempt) * self.scale, elapsed, self.deadline)
        if response.status not in self.statuses:
            return None
        limit = self.gone_retries if response.status == GONE else self.retries
        if attempt > limit:
            return None
        delay = self.gone_delay if response.status == GONE else self._backoff(attempt)
        hinted = retry_after_seconds(response)
        if hinted is not None:
            delay = min(hinted, self.max_retry_after)
        logger.debug("IMDS answered %d; retry %d/%d", response.status, attempt, limit)
        return _fits(delay * self.scale, elapsed, self.deadline)

    def _backoff(self, attempt: int) -> float:
        return float(min(self.base_delay * 2.0 ** (attempt - 1), self.max_delay))


@dataclass(frozen=True, slots=True)
class LinearRetryPolicy:
    """MSAL.NET `DefaultRetryPolicy`: a fixed delay between a few retries.

    Used for the non-IMDS managed identity sources (`MANAGED_IDENTITY_DEFAULT_STATUSES`, 3
    retries, 1 s; Service Fabric without 404) and for the ESTS token leg of IMDS v2 (5xx,
    1 retry, only when the server sent no `Retry-After`). A `Retry-After` header replaces the
    delay (capped at `max_retry_after`); a send without an answer is not retried.
    """

    statuses: frozenset[int] = MANAGED_IDENTITY_DEFAULT_STATUSES
    retries: int = 3
    delay: float = 1.0
    retry_when_retry_after: bool = True
    max_retry_after: float = 60.0
    deadline: float = 60.0
    scale: float = 1.0

    def next_delay(
        self, attempt: int, response: HttpResponse | None, elapsed: float
    ) -> float | None:
        if attempt > self.retries or response is None or response.status not in self.statuses:
            return None
        hinted = retry_after_seconds(response)
        if hinted is not None and not self.retry_when_retry_after:
            return None
        delay = self.delay if hinted is None else min(hinted, self.max_retry_after)
        logger.debug("managed identity endpoint answered %d; retry %d", response.status, attempt)
        return _fits(delay * self.scale, elapsed, self.deadline)


def imds_policy(scale: float = 1.0) -> ImdsRetryPolicy:
    """IMDS v1 token, `getplatformmetadata`, `issuecredential` (one policy, as MSAL.NET's)."""
    return ImdsRetryPolicy(scale=scale)


def managed_identity_default_policy(scale: float = 1.0) -> LinearRetryPolicy:
    """App Service, Azure Arc, Cloud Shell, Azure ML."""
    return LinearRetryPolicy(scale=scale)


def service_fabric_policy(scale: float = 1.0) -> LinearRetryPolicy:
    """Service Fabric: as the default, but a 404 is final."""
    return LinearRetryPolicy(statuses=SERVICE_FABRIC_STATUSES, scale=scale)


def sts_policy(scale: float = 1.0) -> LinearRetryPolicy:
    """ESTS token calls (the IMDS v2 mTLS leg): one retry on 5xx unless `Retry-After` was sent."""
    return LinearRetryPolicy(
        statuses=frozenset(range(500, 600)),
        retries=1,
        retry_when_retry_after=False,
        scale=scale,
    )
