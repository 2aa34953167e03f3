"""`AuthorizationHeaderProvider`: the Authorization header (and binding certificate) for a call.

The scheme follows the token type (`mtls_pop <token>` or `Bearer <token>`). The binding
certificate is returned only for bound tokens, and the caller must present it on the TLS
connection that carries the header. Request checks run before any network call.
"""

from __future__ import annotations

from collections.abc import Coroutine, Sequence
from typing import Any, Protocol

from identity_web._errors import InvalidRequestError
from identity_web._results import (
    AuthorizationHeaderInformation,
)
from identity_web.acquisition._options import AcquireOptions
from identity_web.acquisition._plan import HeldHeader
from identity_web.protocol.steps import Step, StepRunner
from identity_web.settings import DownstreamApiOptions


class HeaderRequest(Protocol):
    """What the provider reads of a downstream API's options (`settings.DownstreamApiOptions`)."""

    @property
    def scopes(self) -> Sequence[str]: ...
    @property
    def is_mtls_pop(self) -> bool: ...
    @property
    def request_app_token(self) -> bool: ...
    @property
    def acquire_token_options(self) -> AcquireOptions | None: ...


#: Options types whose instances never change (frozen models), so what they ask for is read once.
IMMUTABLE_REQUESTS = (DownstreamApiOptions,)


class AppTokenAcquirer(Protocol):
    """`identity_web.acquisition.TokenAcquirer` as the provider uses it."""

    @property
    def runner(self) -> StepRunner: ...

    def cached_header(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> AuthorizationHeaderInformation | None: ...

    def header_step(
        self, scope: str, options: AcquireOptions | None = None, *, bound: bool = False
    ) -> Step[AuthorizationHeaderInformation]: ...

    def held_header(
        self, scope: str, options: AcquireOptions | None, bound: bool, request: object
    ) -> HeldHeader | None: ...


#: (the options it was read from, scope, token options, bound): `prepare` done once per
#: immutable options object.
AppTokenRequest = tuple[HeaderRequest, str, AcquireOptions | None, bool]


class AuthorizationHeaderProvider:
    """Builds Authorization headers for app tokens, Bearer or mTLS PoP.

    The header of a cached token is built once per cache entry, next to the entry's result. For
    a configured (frozen) options object the provider holds that header with what says it is
    still the one to give (`HeldHeader`: the cache's generation, the selected credential, the
    time it stays fresh), so a cache hit is one dictionary read, one clock read and a few
    comparisons (tests/bench/test_hit_path_calls.py counts its calls). Anything else, or any of
    those changed: the acquirer is asked (`held_header`), then the step runs on a miss.
    """

    def __init__(self, acquirer: AppTokenAcquirer, limit: int = 512) -> None:
        self._acquirer = acquirer
        self._runner = acquirer.runner
        self._requests: dict[int, AppTokenRequest] = {}
        self._held: dict[int, HeldHeader] = {}
        self._limit = limit

    def create_authorization_header(self, options: HeaderRequest) -> AuthorizationHeaderInformation:
        header = self.cached_header(options)
        return header if header is not None else self._runner.run(self.header_step(options))

    def create_authorization_header_async(
        self, options: HeaderRequest
    ) -> Coroutine[Any, Any, AuthorizationHeaderInformation]:
        """`create_authorization_header`, to await. On a hit on a held header this returns the
        header's `Ready` (a coroutine that is already finished, so awaiting it starts no frame);
        otherwise the coroutine that asks the acquirer and, on a miss, runs the step.

        The test is `cached_header`'s, written out here: calling it would cost what `Ready`
        saves. tests/acquisition/test_held_header.py runs every case through both.
        """
        held = self._held.get(id(options))
        if (
            held is not None
            and held.generation == held.level.generation
            and held.clock() < held.fresh_until
        ):
            return held.ready
        return self._header_async(options)

    async def _header_async(self, options: HeaderRequest) -> AuthorizationHeaderInformation:
        header = self._ask(options)
        if header is not None:
            return header
        return await self._runner.run_async(self.header_step(options))

    def cached_header(self, options: HeaderRequest) -> AuthorizationHeaderInformation | None:
        """The header of a cached token, without a step (no I/O, no lock); None: run the step.

        The held header found under `id(options)` is the one of this very object: the held
        header keeps its request alive, so no other object can have that id meanwhile.
        """
        held = self._held.get(id(options))
        if (
            held is not None
            and held.generation == held.level.generation
            and held.clock() < held.fresh_until
        ):
            return held.header
        return self._ask(options)

    def _ask(self, options: HeaderRequest) -> AuthorizationHeaderInformation | None:
        """The acquirer's cached header, held for frozen options (at most `limit` of them)."""
        _, scope, token_options, bound = self._request(options)
        if not isinstance(options, IMMUTABLE_REQUESTS):  # it may change: never held
            return self._acquirer.cached_header(scope, token_options, bound=bound)
        held = self._acquirer.held_header(scope, token_options, bound, options)
        if held is None:
            return None
        if held.generation == held.level.generation:  # else stale already (or not ours)
            if len(self._held) >= self._limit:
                self._held.clear()
            self._held[id(options)] = held  # keeps `options` alive, so its id stays unique
        return held.header

    def header_step(self, options: HeaderRequest) -> Step[AuthorizationHeaderInformation]:
        """The header as a step (a sub-step of a downstream call)."""
        _, scope, token_options, bound = self._request(options)
        return (yield from self._acquirer.header_step(scope, token_options, bound=bound))

    def _request(self, options: HeaderRequest) -> AppTokenRequest:
        """`prepare(options)`, remembered for options that never change (keyed by identity;
        the remembered tuple keeps the options alive, so the identity stays unique)."""
        request = self._requests.get(id(options))
        if request is not None and request[0] is options:
            return request
        request = (options, *prepare(options))
        if isinstance(options, IMMUTABLE_REQUESTS):
            if len(self._requests) >= self._limit:
                self._requests.clear()
            self._requests[id(options)] = request
        return request


def prepare(options: HeaderRequest) -> tuple[str, AcquireOptions | None, bool]:
    """(scope, token options, bound) for an app token, or an `InvalidRequestError`.

    Like Identity.Web: `MTLS_POP` (any case) asks for a bound token; it needs an app token
    (`RequestAppToken` or a managed identity) — IDW10116; app tokens use the first scope only.
    """
    token_options = options.acquire_token_options
    bound = options.is_mtls_pop
    app_token = options.request_app_token or (
        token_options is not None and token_options.managed_identity is not None
    )
    if bound and not app_token:
        raise InvalidRequestError(
            "IDW10116",
            "Token binding requires enabled app token acquisition. Set RequestAppToken to true "
            "(or AcquireTokenOptions.ManagedIdentity) for a ProtocolScheme MTLS_POP API.",
        )
    if not app_token:
        raise InvalidRequestError(
            "",
            "identity-web acquires app tokens only (daemons and services): set RequestAppToken "
            "to true, or AcquireTokenOptions.ManagedIdentity.",
        )
    if not options.scopes or not options.scopes[0].strip():
        raise InvalidRequestError(
            "",
            'No scope is configured: set Scopes, e.g. ["api://my-api/.default"], to call an API '
            "with a token.",
        )
    return options.scopes[0].strip(), token_options, bound
