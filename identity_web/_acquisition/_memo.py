"""Memoized plans and cache hits: what keeps the cache-hit path to a few dictionary lookups.

A plan depends only on the scope, `bound`, the (immutable) options object and the selected
credential, so it is remembered per `(scope, bound, options)` and reused while the credentials
provider returns the same credential object. The result handed out for a cache entry is kept
next to it and reused while the cache returns that same entry object. Both are replaced by a
single attribute assignment, so a concurrent reader never sees half of an update.
"""

from __future__ import annotations

from dataclasses import dataclass

from identity_web._acquisition._plan import AcquisitionPlan, Planner
from identity_web._acquisition._seams import AcquireOptions, TokenRequestOptions
from identity_web._binding import BindingCertificate
from identity_web._results import (
    AcquireTokenResult,
    AuthorizationHeaderInformation,
    TokenSource,
    header_information,
)
from identity_web.cache import CacheEntry
from identity_web.credentials import LoadedCredential
from identity_web.protocol._tokens import TokenType
from identity_web.protocol.expiry import TOKEN_MARGIN
from identity_web.settings import AcquireTokenOptions

#: Option types whose instances never change, so a plan made from one stays right.
IMMUTABLE_OPTIONS = (TokenRequestOptions, AcquireTokenOptions)


@dataclass(frozen=True, slots=True)
class Hit:
    """What one cache entry gives out: its result and its header, built once per entry."""

    entry: CacheEntry
    result: AcquireTokenResult
    header: AuthorizationHeaderInformation
    usable_until: float


@dataclass(slots=True)
class Prepared:
    """A plan, the inputs it was made from, and the last cache hit it served."""

    options: AcquireOptions | None
    credential: LoadedCredential | None
    plan: AcquisitionPlan
    hit: Hit | None = None

    def cached(self, entry: CacheEntry | None, now: float) -> tuple[Hit, bool] | None:
        """(hit, wants refresh) for a cache entry still good at `now`, else None."""
        if entry is None:
            return None
        hit = self.hit
        if hit is None or hit.entry is not entry:
            hit = hit_for(self.plan, entry)
            if hit is None:
                return None
            self.hit = hit
        if now >= hit.usable_until:
            return None
        return hit, entry.wants_refresh(now)


class PlanMemo:
    """Remembers up to `limit` prepared plans of one acquirer."""

    def __init__(self, planner: Planner, limit: int = 512) -> None:
        self._planner = planner
        self._limit = limit
        self._prepared: dict[tuple[str, bool, int], Prepared] = {}

    def prepare(
        self,
        scope: str,
        options: AcquireOptions | None,
        bound: bool,
        credential: LoadedCredential | None,
    ) -> Prepared:
        slot = (scope, bound, id(options))
        prepared = self._prepared.get(slot)
        if (
            prepared is not None
            and prepared.options is options
            and prepared.credential is credential
        ):
            return prepared
        plan = self._planner.plan(scope, options, bound=bound, credential=credential)
        prepared = Prepared(options, plan.credential, plan)
        if options is None or isinstance(options, IMMUTABLE_OPTIONS):
            if len(self._prepared) >= self._limit:
                self._prepared.clear()
            self._prepared[slot] = prepared  # keeps `options` alive, so its id stays unique
        return prepared


def hit_for(plan: AcquisitionPlan, entry: CacheEntry) -> Hit | None:
    """The result for a cached entry, and until when it may be served (None: not usable)."""
    usable_until = entry.expires_on - TOKEN_MARGIN
    binding = (plan.binding or entry.binding_certificate) if plan.bound else None
    if plan.bound:
        if binding is None:
            return None
        usable_until = min(usable_until, binding.not_after.timestamp())
    result = make_result(plan, entry, TokenSource.CACHE, binding)
    return Hit(entry, result, header_information(result), usable_until)


def make_result(
    plan: AcquisitionPlan,
    entry: CacheEntry,
    source: TokenSource,
    binding: BindingCertificate | None,
) -> AcquireTokenResult:
    from_network = source is TokenSource.IDENTITY_PROVIDER
    return AcquireTokenResult(
        access_token=entry.access_token,
        token_type=TokenType.of(plan.bound),
        expires_on=entry.expires_on,
        refresh_on=entry.refresh_on,
        binding_certificate=binding if plan.bound else None,
        token_source=source,
        correlation_id=entry.correlation_id if from_network else plan.correlation_id,
        scopes=(plan.scope,),
        tenant_id=plan.tenant,
        token_endpoint=entry.token_endpoint,
    )
