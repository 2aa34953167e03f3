"""`TokenAcquirer`: app tokens from the cache or the identity provider, Bearer or mTLS PoP.

One step serves both drivers (`token_step`): a request becomes an `AcquisitionPlan` (validated,
with its binding certificate and cache key); the in-process cache level is read without locks
or I/O (`TokenCache.peek`). On a miss one caller per key and process (`Shared`, threads and
tasks together) reads every level (`ReadCache`: Redis when configured), then takes the key's
turn in the fleet (`HoldTurn`: one process acquires, the others are handed its token), runs the
plan's flow and stores the token (`StoreToken`) before leaving the turn (`LeaveTurn`).

Past `refresh_on` the cached token is still served to every caller, the one that noticed
included, while one refresh runs in the background (a thread, or a task); a failed refresh is
logged as a warning and tried again after a backoff (`RefreshBackoff`), until the token
expires. The sync and async methods only hand the step to the sync or the async driver.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Mapping

from identity_web import _telemetry
from identity_web._errors import IdentityWebError
from identity_web._results import (
    AcquireTokenResult,
    AuthorizationHeaderInformation,
    TokenSource,
    header_information,
)
from identity_web.acquisition._flows import FlowBuilder, Outcome
from identity_web.acquisition._options import AcquireOptions, CredentialSource
from identity_web.acquisition._plan import (
    UNVERSIONED,
    AcquisitionPlan,
    CacheLevel,
    HeldHeader,
    Hit,
    PlanMemo,
    Planner,
    Prepared,
    make_result,
)
from identity_web.acquisition._ready import Ready
from identity_web.acquisition._refresh import RefreshBackoff
from identity_web.cache import (
    CacheEntry,
    DistributedCoordinator,
    Held,
    HoldTurn,
    LeaveTurn,
    LocalCoordinator,
    ReadCache,
    StoreToken,
    TokenCache,
    Turn,
    in_process_level,
)
from identity_web.credentials import LoadedCredential
from identity_web.managed_identity._client import ManagedIdentityTokens
from identity_web.protocol import entra
from identity_web.protocol.retry import sts_policy
from identity_web.protocol.steps import ReadClock, Shared, Step, StepRunner
from identity_web.settings import MicrosoftIdentityApplicationOptions

logger = logging.getLogger(__name__)


class TokenAcquirer:
    """Acquires app tokens for one application (`AzureAd` section).

    `credentials` may be None for an application that only uses managed identity;
    `managed_identity` may be None when no downstream API asks for it. `retry_scale` multiplies
    the ESTS retry delay (tests); `environ` is read for region auto-detection. `coordinator`
    elects one acquirer per key across processes (the `TokenCache` section's; by default each
    process acquires on its own); `refresh_backoff` spaces refreshes that failed.
    """

    def __init__(  # noqa: PLR0917 - the documented seam: (app, credentials, transport, cache, mi, clock)
        self,
        app: MicrosoftIdentityApplicationOptions,
        credentials: CredentialSource | None,
        transport: StepRunner,
        cache: TokenCache,
        managed_identity: ManagedIdentityTokens | None = None,
        clock: Callable[[], float] = time.time,
        *,
        retry_scale: float = 1.0,
        environ: Mapping[str, str] | None = None,
        coordinator: DistributedCoordinator | None = None,
        refresh_backoff: RefreshBackoff | None = None,
    ) -> None:
        environ = os.environ if environ is None else environ
        region = entra.resolve_region(app.azure_region, environ)
        discovery = entra.region_discovery_base(app.azure_region, environ)
        self._planner = Planner(
            app, credentials, managed_identity, region=region, region_discovery=discovery
        )
        self._credentials = credentials
        self._memo = PlanMemo(self._planner)
        self._flows = FlowBuilder(self._planner, retry=sts_policy(retry_scale))
        self._runner = transport
        self._cache = cache
        level = in_process_level(cache)
        self._level: CacheLevel = level if level is not None else UNVERSIONED
        if credentials is not None:
            credentials.watch(self._level.touch)  # a new selection ends the held headers
        self._coordinator = coordinator or LocalCoordinator()
        self._refresh = refresh_backoff or RefreshBackoff()
        self._clock = clock

    @property
    def cache(self) -> TokenCache:
        return self._cache

    @property
    def runner(self) -> StepRunner:
        """The drivers this acquirer's steps run on (the transport)."""
        return self._runner

    def acquire_token_for_app(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> AcquireTokenResult:
        """An app token for `scope` (`…/.default`); `bound=True` asks for an mTLS PoP token."""
        cached = self.cached_token(scope, options, bound=bound)
        if cached is not None:
            return cached
        return self._runner.run(self.token_step(scope, options, bound=bound))

    async def acquire_token_for_app_async(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> AcquireTokenResult:
        """`acquire_token_for_app` for asyncio code (the same step, the async driver)."""
        cached = self.cached_token(scope, options, bound=bound)
        if cached is not None:
            return cached
        return await self._runner.run_async(self.token_step(scope, options, bound=bound))

    def cached_token(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> AcquireTokenResult | None:
        """The cached token when it can be handed out now, without a step: no I/O, no lock,
        one key computation and one lookup. None: run `token_step`."""
        hit = self._hit(scope, options, bound)
        return hit.result if hit is not None else None

    def cached_header(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> AuthorizationHeaderInformation | None:
        """The Authorization header of the cached token (built once per cache entry), like
        `cached_token`; None: run `token_step`."""
        hit = self._hit(scope, options, bound)
        return hit.header if hit is not None else None

    def held_header(
        self, scope: str, options: AcquireOptions | None, bound: bool, request: object
    ) -> HeldHeader | None:
        """`cached_header` for `request` (the caller's frozen options object, which asked for
        scope, options and bound), with what the header provider checks to give it out again
        without asking (`HeldHeader`). None: run `header_step`."""
        level = self._level
        # Read before the selected credential and the entry, so that a change of either after
        # it shows (the credential source `touch`es the level after it selects). A cache that
        # is not ours has no generation: the held header is stale from the start.
        generation = level.generation if level is not UNVERSIONED else UNVERSIONED.generation - 1
        hit = self._hit(scope, options, bound)
        if hit is None:
            return None
        return HeldHeader(
            request, hit.header, Ready(hit.header), hit.fresh_until, self._clock, level, generation
        )

    def _hit(self, scope: str, options: AcquireOptions | None, bound: bool) -> Hit | None:
        """The lock-free hit (its result and its header, built once per entry), or None: the
        remembered plan, one cache read, the entry's remembered hit
        (tests/bench/test_hit_path_calls.py counts the Python calls of a whole hit)."""
        credentials = self._credentials  # the credential selected for Bearer or for mTLS PoP
        if credentials is None:
            credential = None
        else:
            credential = credentials.current_bound if bound else credentials.current
        if credential is None and self._planner.uses_credentials(options):
            return None
        prepared = self._memo.prepare(scope, options, bound, credential)
        if not prepared.reads_cache:
            return None
        return prepared.fresh(self._cache.peek(prepared.plan.key), self._clock())

    def token_step(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> Step[AcquireTokenResult]:
        """The token as a step: the cache (one key, one lookup), else one shared acquisition."""
        found = yield from self._found(scope, options, bound)
        return found.result if isinstance(found, Hit) else found

    def header_step(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> Step[AuthorizationHeaderInformation]:
        """`token_step`, giving the Authorization header (a cached token's is built once)."""
        found = yield from self._found(scope, options, bound)
        return found.header if isinstance(found, Hit) else header_information(found)

    def _found(
        self, scope: str, options: AcquireOptions | None, bound: bool
    ) -> Step[Hit | AcquireTokenResult]:
        """A cache hit (refreshed in the background when due), or the shared acquisition."""
        now: float = yield ReadClock(self._clock)
        credential = self._known_credential(bound)
        if credential is None and self._planner.uses_credentials(options):
            assert self._credentials is not None  # uses_credentials says so
            credential = yield from self._credentials.selected(bound)
        prepared = self._memo.prepare(scope, options, bound, credential)
        flight = (self, prepared.plan.flight_key)
        cached = self._cached(prepared, now)
        if cached is not None:
            hit, due = cached
            if due and now >= self._refresh.next_attempt(flight):
                # Not awaited: one refresh runs in the background; every caller keeps `hit`.
                yield Shared(flight, lambda: self._traced(prepared, hit.result), hit.result)
            return hit
        result: AcquireTokenResult = yield Shared(flight, lambda: self._traced(prepared, None))
        return result

    # -- on a miss, or due for refresh: one caller per key ----------------------------------

    def _traced(
        self, prepared: Prepared, stale: AcquireTokenResult | None
    ) -> Step[AcquireTokenResult]:
        """`_acquire` inside an OpenTelemetry span (a no-op without opentelemetry)."""
        return _telemetry.acquisition(self._acquire(prepared, stale), prepared.plan)

    def _acquire(
        self, prepared: Prepared, stale: AcquireTokenResult | None
    ) -> Step[AcquireTokenResult]:
        """The shared level, then a turn of the fleet (one process acquires), then the flow."""
        now: float = yield ReadClock(self._clock)
        plan = prepared.plan
        if plan.skips_cache_read:
            return (yield from self._network(prepared, stale, now))
        found = yield from self._shared_entry(prepared, now)
        if found is not None:
            return found
        newer_than = stale.expires_on if stale is not None else 0.0
        held: Held = yield HoldTurn(self._coordinator, plan.key, newer_than)
        try:
            result = yield from self._in_turn(prepared, stale, held.turn, now)
        except IdentityWebError:
            yield LeaveTurn(held)
            raise
        yield LeaveTurn(held)
        return result

    def _shared_entry(self, prepared: Prepared, now: float) -> Step[AcquireTokenResult | None]:
        """A good entry another caller stored: L1 (a previous leader), else every level (L2)."""
        cached = self._cached(prepared, now)
        if cached is None or cached[1]:
            entry: CacheEntry | None = yield ReadCache(self._cache, prepared.plan.key)
            cached = prepared.cached(entry, now)
        if cached is None or cached[1]:
            return None
        self._refresh.succeeded((self, prepared.plan.flight_key))
        return cached[0].result

    def _in_turn(
        self, prepared: Prepared, stale: AcquireTokenResult | None, turn: Turn, now: float
    ) -> Step[AcquireTokenResult]:
        """Another process's token that came while waiting for the turn, else the flow."""
        cached = prepared.cached(turn.entry, now)
        if cached is not None:
            self._refresh.succeeded((self, prepared.plan.flight_key))
            return cached[0].result
        return (yield from self._network(prepared, stale, now))

    def _network(
        self, prepared: Prepared, stale: AcquireTokenResult | None, now: float
    ) -> Step[AcquireTokenResult]:
        plan = prepared.plan
        flight = (self, plan.flight_key)
        try:
            outcome = yield from self._flows.acquisition_flow(plan, now)
        except IdentityWebError as error:
            failed_at: float = yield ReadClock(self._clock)
            if stale is not None:
                self._refresh.failed(flight, failed_at)
            return self._failed(plan, stale, error, failed_at - now)
        token = outcome.token
        entry = CacheEntry(**{name: getattr(token, name) for name in _ENTRY_FIELDS})
        yield StoreToken(self._cache, outcome.plan.key, entry)
        self._refresh.succeeded(flight)
        done: float = yield ReadClock(self._clock)
        _log_acquired(outcome, done - now)
        return make_result(
            outcome.plan, entry, TokenSource.IDENTITY_PROVIDER, token.binding_certificate
        )

    def _known_credential(self, bound: bool) -> LoadedCredential | None:
        """The credential already selected for Bearer or for mTLS PoP (no I/O), or None."""
        credentials = self._credentials
        if credentials is None:
            return None
        return credentials.current_bound if bound else credentials.current

    def _cached(self, prepared: Prepared, now: float) -> tuple[Hit, bool] | None:
        """(hit, due for refresh) from the in-process level: one dict read, no I/O, no lock."""
        if prepared.plan.skips_cache_read:
            return None
        return prepared.cached(self._cache.peek(prepared.plan.key), now)

    @staticmethod
    def _failed(
        plan: AcquisitionPlan,
        stale: AcquireTokenResult | None,
        error: IdentityWebError,
        seconds: float,
    ) -> AcquireTokenResult:
        """Re-raise, unless a still-valid token was being refreshed ahead of time."""
        if stale is None:
            logger.info(
                "%s token request for %s failed after %.0f ms: %s",
                plan.key.token_type,
                plan.scope,
                seconds * 1000,
                error,
            )
            raise error
        logger.warning(
            "refreshing the %s token for %s failed (%s); the cached token stays in use until "
            "it expires, and the refresh is tried again later",
            plan.key.token_type,
            plan.scope,
            error,
        )
        return stale


#: What a cache entry keeps of a token response (every field of `CacheEntry` is one of them).
_ENTRY_FIELDS = tuple(field.name for field in dataclasses.fields(CacheEntry))


def _log_acquired(outcome: Outcome, seconds: float) -> None:
    token, plan = outcome.token, outcome.plan
    binding = token.binding_certificate
    logger.info(
        "acquired %s token for %s from %s in %.0f ms%s",
        token.token_type,
        plan.scope,
        token.token_endpoint or "managed identity",
        seconds * 1000,
        f" (bound to x5t#S256 {binding.x5t_s256})" if binding is not None else "",
    )
