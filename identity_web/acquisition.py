"""`TokenAcquirer`: app tokens from the cache or the identity provider, Bearer or mTLS PoP.

One sans-IO core serves both drivers: a request becomes an `AcquisitionPlan` (validated, with
its binding certificate and cache key); the cache is read outside any flow and without locks;
on a miss one caller per key runs the plan's flow through the transport (`run` or `run_async`,
the only difference between the two methods) and stores the token.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

from identity_web._acquisition._flows import FlowBuilder, Outcome
from identity_web._acquisition._memo import PlanMemo, Prepared, make_result
from identity_web._acquisition._plan import AcquisitionPlan, Planner
from identity_web._acquisition._seams import AcquireOptions, CredentialSource, TokenRequestOptions
from identity_web._acquisition._singleflight import AsyncSingleFlight, ThreadSingleFlight
from identity_web._errors import IdentityWebError
from identity_web._results import AcquireTokenResult, TokenSource
from identity_web._seams import FlowRunner, ManagedIdentityTokens
from identity_web.cache import CacheEntry, TokenCache
from identity_web.protocol import entra
from identity_web.protocol.retry import sts_policy
from identity_web.settings import MicrosoftIdentityApplicationOptions

__all__ = ["AcquireOptions", "TokenAcquirer", "TokenRequestOptions"]

logger = logging.getLogger(__name__)


class TokenAcquirer:
    """Acquires app tokens for one application (`AzureAd` section).

    `credentials` may be None for an application that only uses managed identity;
    `managed_identity` may be None when no downstream API asks for it. `retry_scale` multiplies
    the ESTS retry delay (tests); `environ` is read for region auto-detection.
    """

    def __init__(  # noqa: PLR0917 - the documented seam: (app, credentials, transport, cache, mi, clock)
        self,
        app: MicrosoftIdentityApplicationOptions,
        credentials: CredentialSource | None,
        transport: FlowRunner,
        cache: TokenCache,
        managed_identity: ManagedIdentityTokens | None = None,
        clock: Callable[[], float] = time.time,
        *,
        retry_scale: float = 1.0,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        region = entra.resolve_region(app.azure_region, os.environ if environ is None else environ)
        self._planner = Planner(app, credentials, managed_identity, region=region)
        self._memo = PlanMemo(self._planner)
        self._flows = FlowBuilder(self._planner, retry=sts_policy(retry_scale))
        self._transport = transport
        self._cache = cache
        self._clock = clock
        self._threads: ThreadSingleFlight[AcquireTokenResult] = ThreadSingleFlight()
        self._tasks: AsyncSingleFlight[AcquireTokenResult] = AsyncSingleFlight()

    @property
    def cache(self) -> TokenCache:
        return self._cache

    def acquire_token_for_app(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> AcquireTokenResult:
        """An app token for `scope` (`…/.default`); `bound=True` asks for an mTLS PoP token."""
        prepared = self._memo.prepare(scope, options, bound)
        cached = self._cached(prepared)
        if cached is not None and not cached[1]:
            return cached[0]
        stale = cached[0] if cached is not None else None
        plan = prepared.plan
        return self._threads.run(plan.flight_key, lambda: self._acquire(prepared, stale), stale)

    async def acquire_token_for_app_async(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> AcquireTokenResult:
        """`acquire_token_for_app` for asyncio code; shares the plan, cache and flows."""
        prepared = self._memo.prepare(scope, options, bound)
        cached = self._cached(prepared)
        if cached is not None and not cached[1]:
            return cached[0]
        stale = cached[0] if cached is not None else None
        return await self._tasks.run(
            prepared.plan.flight_key, lambda: self._acquire_async(prepared, stale), stale
        )

    # -- the two drivers: they differ only by `await` --------------------------------------

    def _acquire(self, prepared: Prepared, stale: AcquireTokenResult | None) -> AcquireTokenResult:
        fresh = self._recheck(prepared)
        if fresh is not None:
            return fresh
        plan = prepared.plan
        started = time.perf_counter()
        try:
            outcome = self._transport.run(self._flows.acquisition_flow(plan, self._clock()))
        except IdentityWebError as error:
            return self._failed(plan, stale, error, started)
        return self._store(outcome, started)

    async def _acquire_async(
        self, prepared: Prepared, stale: AcquireTokenResult | None
    ) -> AcquireTokenResult:
        fresh = self._recheck(prepared)
        if fresh is not None:
            return fresh
        plan = prepared.plan
        started = time.perf_counter()
        try:
            flow = self._flows.acquisition_flow(plan, self._clock())
            outcome = await self._transport.run_async(flow)
        except IdentityWebError as error:
            return self._failed(plan, stale, error, started)
        return self._store(outcome, started)

    # -- shared, no I/O ------------------------------------------------------------------

    def _cached(self, prepared: Prepared) -> tuple[AcquireTokenResult, bool] | None:
        """(result, wants refresh) from the cache, or None. Lock-free: one dict read."""
        if prepared.plan.skips_cache_read:
            return None
        return prepared.cached(self._cache.get(prepared.plan.key), self._clock())

    def _recheck(self, prepared: Prepared) -> AcquireTokenResult | None:
        """A leader looks again: the previous leader may have just stored a fresh token."""
        cached = self._cached(prepared)
        return cached[0] if cached is not None and not cached[1] else None

    def _store(self, outcome: Outcome, started: float) -> AcquireTokenResult:
        token, plan = outcome.token, outcome.plan
        entry = CacheEntry(
            access_token=token.access_token,
            token_type=token.token_type,
            expires_on=token.expires_on,
            refresh_on=token.refresh_on,
            token_endpoint=token.token_endpoint,
            correlation_id=token.correlation_id,
            binding_certificate=token.binding_certificate,
        )
        self._cache.set(plan.key, entry)
        binding = token.binding_certificate
        logger.info(
            "acquired %s token for %s from %s in %.0f ms%s",
            token.token_type,
            plan.scope,
            token.token_endpoint or "managed identity",
            (time.perf_counter() - started) * 1000,
            f" (bound to x5t#S256 {binding.x5t_s256})" if binding is not None else "",
        )
        return make_result(plan, entry, TokenSource.IDENTITY_PROVIDER, binding)

    @staticmethod
    def _failed(
        plan: AcquisitionPlan,
        stale: AcquireTokenResult | None,
        error: IdentityWebError,
        started: float,
    ) -> AcquireTokenResult:
        """Re-raise, unless a still-valid token was being refreshed ahead of time."""
        if stale is None:
            logger.info(
                "%s token request for %s failed after %.0f ms: %s",
                plan.key.token_type,
                plan.scope,
                (time.perf_counter() - started) * 1000,
                error,
            )
            raise error
        logger.warning(
            "refreshing the %s token for %s failed (%s); the cached token stays in use until "
            "it expires",
            plan.key.token_type,
            plan.scope,
            error,
        )
        return stale
