"""Turning a request into an `AcquisitionPlan`: validated, with its binding and cache key.

Everything here runs before any network call and is cheap enough for the cache-hit path: a
few attribute reads, one `CacheKey`. The binding certificate of a certificate credential is
selected here, once, and the same object is used for the request, the key and the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Protocol

from identity_web._errors import (
    ConfigurationError,
    ConfigurationProblem,
    CredentialUnavailableError,
    InvalidRequestError,
)
from identity_web._results import (
    AcquireTokenResult,
    AuthorizationHeaderInformation,
    TokenSource,
    header_information,
)
from identity_web.acquisition._options import AcquireOptions, CredentialSource, TokenRequestOptions
from identity_web.acquisition._ready import Ready
from identity_web.cache import CacheEntry, CacheKey, variant_digest
from identity_web.credentials import (
    AssertionCredential,
    CertificateCredential,
    LoadedCredential,
    SecretCredential,
)
from identity_web.managed_identity._client import ManagedIdentityTokens
from identity_web.protocol import entra, oauth2
from identity_web.protocol._binding import BindingCertificate
from identity_web.protocol._tokens import TokenType
from identity_web.protocol.expiry import TOKEN_MARGIN
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.settings import (
    AcquireTokenOptions,
    ManagedIdentityOptions,
    MicrosoftIdentityApplicationOptions,
)

logger = logging.getLogger(__name__)

MANAGED_IDENTITY_AUTHORITY = "managed_identity"

IDW10115 = (
    "Token binding (mTLS PoP) needs either a certificate or a signed assertion that can be "
    "bound to a certificate (e.g. SignedAssertionFromManagedIdentity); the loaded credential "
    "({credential}) provides neither. Use a certificate credential, or ProtocolScheme Bearer."
)
IDW10404 = (
    "'scope' should be of the form 'AppIdUri/.default' for app tokens, found {scope!r}. "
    "See https://aka.ms/ms-id-web/daemon-scenarios."
)
#: What a request without options means: no managed identity, no overrides.
NO_OPTIONS = TokenRequestOptions()


@dataclass(frozen=True, slots=True)
class AcquisitionPlan:
    """One token acquisition, decided: what to ask, how to prove it, where to cache it.

    `managed_identity` set → managed identity path (`credential` is None). `binding` is the
    certificate chosen up front (certificate credential, bound); flows that obtain their
    certificate on the wire (managed identity, FIC) leave it None and the token brings it.
    """

    key: CacheKey
    scope: str
    bound: bool
    tenant: str = ""
    credential: LoadedCredential | None = None
    binding: BindingCertificate | None = None
    managed_identity: ManagedIdentityId | None = None
    credential_bound: bool = False
    force_refresh: bool = False
    claims: str | None = None
    correlation_id: str = ""
    extra_query: tuple[tuple[str, str], ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold keys

    @property
    def skips_cache_read(self) -> bool:
        return self.force_refresh or bool(self.claims)

    @property
    def flight_key(self) -> tuple[CacheKey, str]:
        """Callers that may share one network acquisition (claims requests stay apart)."""
        return (self.key, self.claims or "")


def check_scope(scope: str) -> None:
    if not scope or not scope.strip():
        raise InvalidRequestError("", "A scope is required, e.g. 'api://my-api/.default'.")
    if not scope.endswith("/.default"):
        raise InvalidRequestError("IDW10404", IDW10404.format(scope=scope))


def check_claims(claims: str | None) -> str | None:
    """A claims challenge must be a JSON object; checked before any network call."""
    if claims:
        oauth2.merge_claims(claims, ())
    return claims or None


def check_can_bind(credential: LoadedCredential) -> None:
    """IDW10115 unless the credential can produce a binding certificate."""
    if isinstance(credential, CertificateCredential):
        return
    if isinstance(credential, AssertionCredential) and credential.provider.supports_token_binding:
        return
    raise InvalidRequestError("IDW10115", IDW10115.format(credential=credential.description_id))


def credential_bound(credential: LoadedCredential, bound: bool) -> bool:
    """`UseBoundCredential` on a Bearer request: the credential goes over mTLS (IDW10115 when it
    cannot be bound, e.g. a token file). A bound (`MTLS_POP`) request is bound anyway."""
    if bound or isinstance(credential, SecretCredential) or not credential.use_bound_credential:
        return False
    check_can_bind(credential)
    return True


class Planner:
    """Builds plans for one application. Holds the values derived once from the settings."""

    def __init__(
        self,
        app: MicrosoftIdentityApplicationOptions,
        credentials: CredentialSource | None,
        managed_identity: ManagedIdentityTokens | None,
        *,
        region: str | None = None,
        region_discovery: str | None = None,
    ) -> None:
        self.region = region
        #: The IMDS base to ask for the region before the first mTLS request (TryAutoDetect).
        self.region_discovery = region_discovery
        self.credentials = credentials
        self.managed_identity = managed_identity
        self.client_id = app.client_id or ""
        self.instance = app.effective_instance() or ""
        self.tenant = app.effective_tenant_id() or ""
        self.send_x5c = app.send_x5c
        self.client_capabilities = tuple(app.client_capabilities)
        self.app_extra_query: Mapping[str, str] = app.extra_query_parameters
        self._default_extra_query = tuple(self.app_extra_query.items())
        self._default_variant = variant_digest(self._default_extra_query)
        self._authority = f"{self.instance}{self.tenant}".lower()
        self._application_checked = False
        self._configured_tenant_checked = False
        self._mtls_endpoints: dict[str, str | None] = {}

    def plan(
        self,
        scope: str,
        options: AcquireOptions | None,
        *,
        bound: bool,
        credential: LoadedCredential | None,
    ) -> AcquisitionPlan:
        """The plan; `credential` is the selected client credential (None: not needed)."""
        check_scope(scope)
        options = options if options is not None else NO_OPTIONS
        if options.managed_identity is not None:
            return self._managed_identity_plan(scope, options, options.managed_identity, bound)
        return self._client_plan(scope, options, bound, self._require(credential))

    def uses_credentials(self, options: AcquireOptions | None) -> bool:
        """Whether a plan for `options` needs the selected client credential."""
        if self.credentials is None:
            return False
        return options is None or options.managed_identity is None

    def rebind(self, plan: AcquisitionPlan, credential: LoadedCredential) -> AcquisitionPlan:
        """The same request with the credential loaded again (after `credentials.reset()`)."""
        binding = self._binding(credential, plan.bound)
        key = replace(plan.key, binding=binding.x5t_s256 if binding is not None else "")
        return replace(plan, credential=credential, binding=binding, key=key)

    # -- managed identity -----------------------------------------------------------------

    def _managed_identity_plan(
        self,
        scope: str,
        options: AcquireOptions,
        options_identity: ManagedIdentityOptions,
        bound: bool,
    ) -> AcquisitionPlan:
        if self.managed_identity is None:
            raise CredentialUnavailableError(
                "AcquireTokenOptions.ManagedIdentity is set but this acquirer has no managed "
                "identity client; build it through TokenAcquirerFactory or pass one."
            )
        identity = ManagedIdentityId.of(options_identity)
        key = CacheKey(
            authority=MANAGED_IDENTITY_AUTHORITY,
            client_id=identity.cache_key,
            scope=scope.lower(),
            token_type=TokenType.of(bound),
        )
        return AcquisitionPlan(
            key=key,
            scope=scope,
            bound=bound,
            managed_identity=identity,
            force_refresh=options.force_refresh,
            claims=check_claims(options.claims),
            correlation_id=options.correlation_id or "",
        )

    # -- confidential client --------------------------------------------------------------

    def _client_plan(
        self, scope: str, options: AcquireOptions, bound: bool, credential: LoadedCredential
    ) -> AcquisitionPlan:
        self._check_application()
        tenant = self._tenant(options)
        if bound:
            self.static_mtls_endpoint(tenant)  # refuses unsupported hosts before any I/O
        binding = self._binding(credential, bound)
        over_mtls = credential_bound(credential, bound)
        if over_mtls:
            self.static_mtls_endpoint(tenant)
        extra_query, variant = self._extra_query(options)
        authority = self._authority if tenant == self.tenant else f"{self.instance}{tenant}".lower()
        key = CacheKey(
            authority=authority,
            client_id=self.client_id,
            scope=scope.lower(),
            token_type=TokenType.of(bound),
            binding=binding.x5t_s256 if binding is not None else "",
            variant=variant,
            credential_bound=over_mtls,
        )
        return AcquisitionPlan(
            key,
            scope,
            bound,
            tenant,
            credential,
            binding,
            credential_bound=over_mtls,
            force_refresh=options.force_refresh,
            claims=check_claims(options.claims),
            correlation_id=options.correlation_id or "",
            extra_query=extra_query,
            extra_headers=tuple(options.extra_headers_parameters.items()),
        )

    def _extra_query(self, options: AcquireOptions) -> tuple[tuple[tuple[str, str], ...], str]:
        """AzureAd.ExtraQueryParameters merged with the call's (the call wins), and digest."""
        extra = options.extra_query_parameters
        if not extra:
            return self._default_extra_query, self._default_variant
        merged = {**self.app_extra_query, **extra}
        return tuple(merged.items()), variant_digest(merged.items())

    def _check_application(self) -> None:
        if self._application_checked:
            return
        problems = []
        if not self.client_id:
            problems.append(ConfigurationProblem("AzureAd.ClientId", "required for app tokens"))
        if not self.instance or not self.tenant:
            problems.append(
                ConfigurationProblem(
                    "AzureAd.Instance",
                    "set Instance and TenantId (or Authority) for app tokens, or request a "
                    "managed identity token (AcquireTokenOptions.ManagedIdentity)",
                )
            )
        if problems:
            raise ConfigurationError(problems)
        entra.require_https(self.instance, what="authority (AzureAd.Instance)")
        self._application_checked = True

    def _tenant(self, options: AcquireOptions) -> str:
        override = options.tenant
        if override:
            entra.check_app_tenant(override, where="AcquireTokenOptions.Tenant")
            return override.strip("/")
        if not self._configured_tenant_checked:
            entra.check_app_tenant(self.tenant, where="AzureAd.TenantId")
            self._configured_tenant_checked = True
        return self.tenant

    @staticmethod
    def _require(credential: LoadedCredential | None) -> LoadedCredential:
        if credential is None:
            raise CredentialUnavailableError(
                "No client credential is configured (AzureAd.ClientCredentials is empty) and "
                "no managed identity was requested (AcquireTokenOptions.ManagedIdentity)."
            )
        return credential

    @staticmethod
    def _binding(credential: LoadedCredential, bound: bool) -> BindingCertificate | None:
        if not bound:
            return None
        check_can_bind(credential)
        if isinstance(credential, CertificateCredential):
            return credential.certificate
        return None

    def login_endpoint(self, tenant: str) -> str:
        return entra.token_endpoint(self.instance, tenant)

    def discovered_region(self, region: str | None) -> None:
        """Region discovery is done: use `region` (None: the global host) from now on."""
        logger.info(
            "AzureRegion TryAutoDetect: %s",
            f"region {region} from IMDS" if region else "no region found; using the global host",
        )
        self.region, self.region_discovery = region, None
        self._mtls_endpoints.clear()

    def static_mtls_endpoint(self, tenant: str) -> str | None:
        """The mapped mTLS token endpoint, None when discovery decides; raises if refused."""
        try:
            return self._mtls_endpoints[tenant]
        except KeyError:
            pass
        endpoint = entra.mtls_token_endpoint(self.login_endpoint(tenant), region=self.region)
        self._mtls_endpoints[tenant] = endpoint
        return endpoint


# -- remembered plans and cache hits: the cache-hit path is a few dictionary reads --------

#: Option types whose instances never change, so a plan made from one stays right.
IMMUTABLE_OPTIONS = (TokenRequestOptions, AcquireTokenOptions)


@dataclass(frozen=True, slots=True)
class Hit:
    """What one cache entry gives out: its result and its header, built once per entry.

    `fresh_until`: before it, the token is usable and not due for refresh; `credential`: the
    client credential the plan was made with (None: a managed identity plan).
    """

    entry: CacheEntry
    result: AcquireTokenResult
    header: AuthorizationHeaderInformation
    usable_until: float
    fresh_until: float
    credential: LoadedCredential | None = None


class CacheLevel(Protocol):
    """A cache level whose `generation` changes with every write, and on `touch()`
    (`InMemoryTokenCache`)."""

    @property
    def generation(self) -> int: ...

    def touch(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Unversioned:
    """The level of a `TokenCache` that is not ours: no generation to watch, so a header held
    for it never holds (its generation is never the held one); every call asks again."""

    generation: int = -1

    def touch(self) -> None:
        pass


UNVERSIONED = Unversioned()


@dataclass(frozen=True, slots=True)
class HeldHeader:
    """A cached token's header for one request object, and what says it may be handed out again.

    The header provider gives `header` out again without asking the acquirer while: `request`
    is the very object asked with (options are frozen), the cache level's `generation` is still
    the one read before the entry and the selected credential (every write and removal changes
    it, and so does a change of the selected client credential: the acquirer `touch`es the
    level), and `clock()` is before `fresh_until` (usable, not due for refresh). Either
    changed: the acquirer is asked again (`held_header`). `ready` is `header` as the finished
    coroutine the asyncio hit returns (`_ready.Ready`).
    """

    request: object
    header: AuthorizationHeaderInformation
    ready: Ready[AuthorizationHeaderInformation]
    fresh_until: float
    clock: Callable[[], float]
    level: CacheLevel
    generation: int


@dataclass(slots=True)
class Prepared:
    """A plan, the inputs it was made from, and the last cache hit it served.

    `reads_cache` is `not plan.skips_cache_read`, kept as a plain attribute for the hit path.
    """

    options: AcquireOptions | None
    credential: LoadedCredential | None
    plan: AcquisitionPlan
    reads_cache: bool = True
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
        refresh_on = entry.refresh_on  # `entry.wants_refresh(now)`, inlined: the hot path
        return hit, refresh_on is not None and now >= refresh_on

    def fresh(self, entry: CacheEntry | None, now: float) -> Hit | None:
        """The hit to hand out now for `entry` (not due for refresh), else None; the hot path:
        when `entry` is the one of the remembered hit, one comparison and no allocation."""
        hit = self.hit
        if hit is None or hit.entry is not entry:
            found = self.cached(entry, now)
            return found[0] if found is not None and not found[1] else None
        return hit if now < hit.fresh_until else None


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
        prepared = Prepared(options, plan.credential, plan, not plan.skips_cache_read)
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
    refresh_on = entry.refresh_on
    fresh_until = usable_until if refresh_on is None else min(usable_until, refresh_on)
    header = header_information(result)
    return Hit(entry, result, header, usable_until, fresh_until, plan.credential)


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
