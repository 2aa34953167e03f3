"""`SourceType: SignedAssertionFromManagedIdentity` — a federated identity credential (FIC)
whose assertion is a managed identity's token for the token exchange audience.

Leg 1 (this module) asks the managed identity for a token for `<TokenExchangeUrl>/.default`
(default `api://AzureADTokenExchange/.default`): a Bearer token from IMDS (or another managed
identity source), or, for mTLS PoP, an `mtls_pop` token from IMDS v2 together with the
certificate it is bound to. Leg 2 (the token acquirer) sends that token as the app's
`client_assertion` — `jwt-bearer` to the login host, or `jwt-pop` to the mTLS token endpoint
presenting leg 1's certificate.

The assertion is fetched when a token request needs one and kept, per Bearer/bound, only until
`expiry_margin` seconds (5 minutes) before its own expiry (the JWT's `exp`, read without
verification, or the token response's expiry, whichever is earlier); a bound assertion is only
ever reused together with the certificate it came with, and only while that certificate is
valid for longer than the margin. The assertion itself is never logged.

As in Identity.Web, the loader warms up with one Bearer managed identity token (`warm_up`, a
step the credentials provider runs after `load`): where the managed identity is not available
the entry fails to load and the next `ClientCredentials` entry is tried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from identity_web._errors import IdentityWebError, TokenAcquisitionError, TokenTypeMismatchError
from identity_web.credentials._errors import ManagedIdentityAssertionError
from identity_web.credentials._types import AssertionCredential, LoadedCredential, SignedAssertion
from identity_web.credentials.signed_assertion_file import jwt_expiry
from identity_web.managed_identity._client import ManagedIdentityTokens
from identity_web.protocol._tokens import TokenResponse, TokenType
from identity_web.protocol.expiry import ASSERTION_MARGIN, usable
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.protocol.steps import ReadClock, Step
from identity_web.settings import CredentialDescription

logger = logging.getLogger(__name__)

DEFAULT_TOKEN_EXCHANGE_URL = "api://AzureADTokenExchange"  # noqa: S105 - an audience URI
DEFAULT_EXPIRY_MARGIN = ASSERTION_MARGIN
SOURCE_TYPE = "SignedAssertionFromManagedIdentity"
_DEFAULT_SUFFIX = "/.default"


def exchange_scope(token_exchange_url: str | None) -> str:
    """`<TokenExchangeUrl>/.default`: trailing slashes dropped, the default when unset."""
    url = (token_exchange_url or "").strip().rstrip("/") or DEFAULT_TOKEN_EXCHANGE_URL
    return url if url.endswith(_DEFAULT_SUFFIX) else f"{url}{_DEFAULT_SUFFIX}"


class ManagedIdentityAssertionProvider:
    """An `AssertionProvider` whose assertions are managed identity tokens; it can bind.

    `client` is the managed identity client (shared with the token acquirer, so the IMDS v2
    certificate cache is shared too); `identity` selects the managed identity.
    """

    def __init__(
        self,
        client: ManagedIdentityTokens,
        *,
        identity: ManagedIdentityId | None = None,
        token_exchange_url: str | None = None,
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
    ) -> None:
        self._client = client
        self.identity = identity or ManagedIdentityId()
        self.scope = exchange_scope(token_exchange_url)
        self.describe = self.identity.describe()
        self._margin = expiry_margin
        self._cached: dict[bool, SignedAssertion] = {}  # one dict operation at a time: no lock

    def __repr__(self) -> str:
        return f"ManagedIdentityAssertionProvider({self.describe!r}, scope={self.scope!r})"

    @property
    def supports_token_binding(self) -> bool:
        return True

    def assertion_flow(self, *, bound: bool, now: float) -> Step[SignedAssertion]:
        """The cached assertion if still good at `now`, else leg 1 over the network."""
        cached = self.cached(bound=bound, now=now)
        if cached is not None:
            return cached
        token = yield from self._client.token_flow(self.identity, self.scope, bound=bound, now=now)
        signed = self._signed(token, bound=bound)
        self._cached[bound] = signed
        binding = signed.binding_certificate
        logger.info(
            "%s got a %s assertion for %s%s",
            self.describe,
            token.token_type,
            self.scope,
            f" bound to x5t#S256 {binding.x5t_s256}" if binding is not None else "",
        )
        return signed

    def renew_binding(self) -> None:
        """Leg 2 refused the binding certificate: forget the bound assertion and its
        certificate, so the next bound assertion comes from a new IMDS v2 certificate."""
        self._cached.pop(True, None)
        self._client.forget_certificate(self.identity)

    def cached(self, *, bound: bool, now: float) -> SignedAssertion | None:
        """The kept assertion (with its certificate when bound) if usable at `now`, else None."""
        signed = self._cached.get(bound)
        if signed is None or not usable(signed.expires_on, now, self._margin):
            return None
        binding = signed.binding_certificate
        if bound and (
            binding is None or not usable(binding.not_after.timestamp(), now, self._margin)
        ):
            return None
        return signed

    def _signed(self, token: TokenResponse, *, bound: bool) -> SignedAssertion:
        """Fail closed: a bound request needs an `mtls_pop` token and its certificate; a Bearer
        request must not get a bound token."""
        got = TokenType.from_wire(token.token_type)
        if got is not TokenType.of(bound) or (bound and token.binding_certificate is None):
            raise TokenTypeMismatchError(TokenType.of(bound), token.token_type)
        if not token.access_token:
            raise TokenAcquisitionError(
                f"The managed identity token for {self.scope} from {self.describe} is empty; "
                "it cannot be used as a client assertion."
            )
        return SignedAssertion(
            assertion=token.access_token,
            expires_on=_expiry(token),
            binding_certificate=token.binding_certificate if bound else None,
        )


def _expiry(token: TokenResponse) -> float:
    """The earlier of the JWT's `exp` (unverified) and the response's expiry."""
    try:
        exp = jwt_expiry(token.access_token)
    except ValueError:
        exp = None
    return min(exp, token.expires_on) if exp is not None else token.expires_on


class SignedAssertionFromManagedIdentityLoader:
    """Loads a `SignedAssertionFromManagedIdentity` entry into an `AssertionCredential`.

    Keys: `ManagedIdentityClientId` (absent: the system-assigned identity; an ARM path
    `/subscriptions/…` is taken as a resource id) and `TokenExchangeUrl`. `load` sends nothing;
    with `warm_up=True` the credentials provider then runs `warm_up`, one Bearer token, so an
    unavailable managed identity fails the entry and the next one is tried.
    """

    def __init__(
        self,
        managed_identity: ManagedIdentityTokens,
        *,
        warm_up: bool = False,
        clock: Callable[[], float] = time.time,
        expiry_margin: float = DEFAULT_EXPIRY_MARGIN,
    ) -> None:
        self._client = managed_identity
        self._warm_up = warm_up
        self._clock = clock
        self._margin = expiry_margin

    def load(self, description: CredentialDescription) -> AssertionCredential:
        client_id = (description.managed_identity_client_id or "").strip() or None
        identity = ManagedIdentityId.selected(client_id=client_id)
        provider = ManagedIdentityAssertionProvider(
            self._client,
            identity=identity,
            token_exchange_url=description.token_exchange_url,
            expiry_margin=self._margin,
        )
        return AssertionCredential(
            provider=provider, description_id=f"{SOURCE_TYPE}={client_id or 'SystemAssigned'}"
        )

    def warm_up(self, credential: LoadedCredential) -> Step[None]:
        """One Bearer assertion now (when asked to warm up); a failure fails the entry."""
        provider = credential.provider if isinstance(credential, AssertionCredential) else None
        if not self._warm_up or not isinstance(provider, ManagedIdentityAssertionProvider):
            return
        now: float = yield ReadClock(self._clock)
        try:
            yield from provider.assertion_flow(bound=False, now=now)
        except IdentityWebError as error:
            key = "" if provider.identity.is_system else "ManagedIdentityClientId"
            raise ManagedIdentityAssertionError(
                f"{provider.describe} could not get a token for {provider.scope} to use as the "
                f"federated assertion ({type(error).__name__}: {error})",
                key=key,
            ) from error
