"""`TokenAcquirer`: app tokens from the cache or the identity provider, Bearer or mTLS PoP.

One step serves both drivers (`token_step`): a request becomes an `AcquisitionPlan` (validated,
with its binding certificate and cache key); the cache is read without locks; on a miss one
caller per key (`Shared`) runs the plan's flow and stores the token (`StoreToken`). The sync
and async methods only hand that step to the sync or the async driver.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Mapping

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
    AcquisitionPlan,
    Hit,
    PlanMemo,
    Planner,
    Prepared,
    make_result,
)
from identity_web.cache import CacheEntry, StoreToken, TokenCache
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
    the ESTS retry delay (tests); `environ` is read for region auto-detection.
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

    def _hit(self, scope: str, options: AcquireOptions | None, bound: bool) -> Hit | None:
        credential = self._credentials.current if self._credentials is not None else None
        if credential is None and self._planner.uses_credentials(options):
            return None
        prepared = self._memo.prepare(scope, options, bound, credential)
        return self._fresh(prepared, self._clock())[0]

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
        """A cache hit, or the result of the (shared) acquisition."""
        now: float = yield ReadClock(self._clock)
        credential = self._credentials.current if self._credentials is not None else None
        if credential is None and self._planner.uses_credentials(options):
            assert self._credentials is not None  # uses_credentials says so
            credential = yield from self._credentials.selected()
        prepared = self._memo.prepare(scope, options, bound, credential)
        fresh, stale = self._fresh(prepared, now)
        if fresh is not None:
            return fresh
        result: AcquireTokenResult = yield Shared(
            (self, prepared.plan.flight_key), lambda: self._acquire(prepared, stale), stale
        )
        return result

    # -- on a miss: one caller per key -----------------------------------------------------

    def _acquire(
        self, prepared: Prepared, stale: AcquireTokenResult | None
    ) -> Step[AcquireTokenResult]:
        now: float = yield ReadClock(self._clock)
        fresh = self._fresh(prepared, now)[0]  # the previous leader may have just stored one
        if fresh is not None:
            return fresh.result
        plan = prepared.plan
        try:
            outcome = yield from self._flows.acquisition_flow(plan, now)
        except IdentityWebError as error:
            failed_at: float = yield ReadClock(self._clock)
            return self._failed(plan, stale, error, failed_at - now)
        token = outcome.token
        entry = CacheEntry(
            access_token=token.access_token,
            token_type=token.token_type,
            expires_on=token.expires_on,
            refresh_on=token.refresh_on,
            token_endpoint=token.token_endpoint,
            correlation_id=token.correlation_id,
            binding_certificate=token.binding_certificate,
        )
        yield StoreToken(self._cache, outcome.plan.key, entry)
        done: float = yield ReadClock(self._clock)
        _log_acquired(outcome, done - now)
        return make_result(
            outcome.plan, entry, TokenSource.IDENTITY_PROVIDER, token.binding_certificate
        )

    def _fresh(
        self, prepared: Prepared, now: float
    ) -> tuple[Hit | None, AcquireTokenResult | None]:
        """(fresh, stale) from the cache: a hit to hand out now, or a token still valid but
        due for refresh. Lock-free: one dict read."""
        if prepared.plan.skips_cache_read:
            return None, None
        cached = prepared.cached(self._cache.get(prepared.plan.key), now)
        if cached is None:
            return None, None
        return (None, cached[0].result) if cached[1] else (cached[0], None)

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
            "it expires",
            plan.key.token_type,
            plan.scope,
            error,
        )
        return stale


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
