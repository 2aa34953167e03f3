"""httpx: an `Auth` that attaches identity-web's Authorization header, and clients built on it.

`HeaderAuth` asks the authorization header provider for every request, so the header is
renewed as the token is (the provider answers from the cache until the token is due for a
refresh), and answers a 401 claims challenge with a token for those claims and one retry. Its
two flows differ only in calling the provider with or without `await`, and hold no lock: the
provider's single-flight makes concurrent first callers share one acquisition.

A bound (`MTLS_POP`) token must travel on a TLS connection that presents its certificate. The
auth therefore hands the certificate to the transport in the request's extensions, and
`BoundTransport` (or `AsyncBoundTransport`) sends each request through a connection pool whose
TLS context presents exactly that certificate. When the certificate is renewed the next
request carries the new one and gets a new pool; the pool of the certificate before it is
closed once a third appears. A bound header that reaches the transport without its certificate,
or an http URL, is refused before anything is sent.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Generic, TypedDict, TypeVar

import httpx

from identity_web._errors import InvalidRequestError
from identity_web._results import AuthorizationHeaderInformation
from identity_web.acquisition import AuthorizationHeaderProvider
from identity_web.downstream._flow import decode_claims, www_authenticate_params
from identity_web.protocol import BindingCertificate
from identity_web.settings import DownstreamApiOptions
from identity_web.transport import DEFAULT_LIMITS, DEFAULT_TIMEOUT, ConnectTo, ssl_context_for

__all__ = ["AsyncBoundTransport", "BoundTransport", "HeaderAuth", "async_client", "client"]

#: The request extension that carries the binding certificate from the auth to the transport.
BINDING_EXTENSION = "identity_web.binding_certificate"
#: Bound connection pools kept per transport: the current certificate's and the one before.
KEEP_BOUND_POOLS = 2

T = TypeVar("T")


def authorize(request: httpx.Request, information: AuthorizationHeaderInformation) -> httpx.Request:
    """Set the header and, for a bound token, the certificate the transport must present."""
    request.headers["Authorization"] = information.header_value
    if information.binding_certificate is not None:
        request.extensions = {
            **request.extensions,
            BINDING_EXTENSION: information.binding_certificate,
        }
    return request


class HeaderAuth(httpx.Auth):
    """Attaches the Authorization header of a downstream API section (sync and async).

    A 401 claims challenge (Continuous Access Evaluation) gets a token with those claims and
    one retry, as `DownstreamApi` does; a second challenge is returned to the caller.
    """

    requires_request_body = True  # the retry sends the same body again

    def __init__(self, headers: AuthorizationHeaderProvider, options: DownstreamApiOptions) -> None:
        self._headers = headers
        self._options = options

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response]:
        response = yield authorize(
            request, self._headers.create_authorization_header(self._options)
        )
        challenged = with_challenge_claims(self._options, response)
        if challenged is not None:
            yield authorize(request, self._headers.create_authorization_header(challenged))

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        header = await self._headers.create_authorization_header_async(self._options)
        response = yield authorize(request, header)
        challenged = with_challenge_claims(self._options, response)
        if challenged is not None:
            yield authorize(
                request, await self._headers.create_authorization_header_async(challenged)
            )

    def __repr__(self) -> str:
        return f"HeaderAuth(scopes={list(self._options.scopes)!r})"


def with_challenge_claims(
    options: DownstreamApiOptions, response: httpx.Response
) -> DownstreamApiOptions | None:
    """The section's options with the claims of a 401 claims challenge, or None (no retry)."""
    if response.status_code != 401:
        return None
    raw = www_authenticate_params(response.headers.get("www-authenticate", "")).get("claims")
    claims = decode_claims(raw) if raw else None
    if claims is None:
        return None
    token_options = options.acquire_token_options.model_copy(update={"claims": claims})
    return options.model_copy(update={"acquire_token_options": token_options})


def binding_of(request: httpx.Request) -> BindingCertificate | None:
    """The certificate this request must present; refuses a bound token sent without it."""
    binding = request.extensions.get(BINDING_EXTENSION)
    if isinstance(binding, BindingCertificate):
        if request.url.scheme != "https":
            raise InvalidRequestError(
                "", f"a bound token is never sent over plain HTTP ({request.url.host})"
            )
        return binding
    scheme = request.headers.get("Authorization", "").partition(" ")[0]
    if scheme.lower() == "mtls_pop":
        raise InvalidRequestError(
            "IDW10115",
            "an mtls_pop token must be sent with its binding certificate: use the client from "
            "http_client(name) / async_http_client(name), which presents it",
        )
    return None


class Pools(Generic[T]):
    """Connection pools per binding thumbprint (None: no client certificate), thread-safe.

    `pick` returns the pool for a certificate and the pools it retired, for the caller to close
    outside the lock (closing an async pool needs `await`).
    """

    def __init__(self, create: Callable[[BindingCertificate | None], T]) -> None:
        self._create = create
        self._unbound: T | None = None
        self._bound: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def pick(self, binding: BindingCertificate | None) -> tuple[T, list[T]]:
        with self._lock:
            if binding is None:
                if self._unbound is None:
                    self._unbound = self._create(None)
                return self._unbound, []
            pool = self._bound.get(binding.x5t_s256)
            if pool is None:
                pool = self._bound[binding.x5t_s256] = self._create(binding)
            self._bound.move_to_end(binding.x5t_s256)
            retired = []
            while len(self._bound) > KEEP_BOUND_POOLS:
                retired.append(self._bound.popitem(last=False)[1])
            return pool, retired

    def thumbprints(self) -> tuple[str, ...]:
        with self._lock:
            return tuple(self._bound)

    def clear(self) -> list[T]:
        with self._lock:
            pools = [*self._bound.values(), *([self._unbound] if self._unbound else [])]
            self._bound.clear()
            self._unbound = None
            return pools


class BoundTransport(httpx.BaseTransport):
    """Sends each request over a pool presenting the request's binding certificate, if any."""

    def __init__(self, ca_bundle: str | None = None, connect_to: ConnectTo | None = None) -> None:
        route = connect_to or ConnectTo()
        self._pools: Pools[httpx.BaseTransport] = Pools(
            lambda binding: route.transport(
                ssl_context_for(binding, ca_bundle=ca_bundle), DEFAULT_LIMITS
            )
        )

    @property
    def bound_thumbprints(self) -> tuple[str, ...]:
        """`x5t#S256` of the certificates with an open pool, oldest first."""
        return self._pools.thumbprints()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        pool, retired = self._pools.pick(binding_of(request))
        for old in retired:
            old.close()
        return pool.handle_request(request)

    def close(self) -> None:
        for pool in self._pools.clear():
            pool.close()


class AsyncBoundTransport(httpx.AsyncBaseTransport):
    """`BoundTransport` for `httpx.AsyncClient`."""

    def __init__(self, ca_bundle: str | None = None, connect_to: ConnectTo | None = None) -> None:
        route = connect_to or ConnectTo()
        self._pools: Pools[httpx.AsyncBaseTransport] = Pools(
            lambda binding: route.async_transport(
                ssl_context_for(binding, ca_bundle=ca_bundle), DEFAULT_LIMITS
            )
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        pool, retired = self._pools.pick(binding_of(request))
        for old in retired:
            await old.aclose()
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.clear():
            await pool.aclose()


class _ClientArguments(TypedDict):
    base_url: str
    auth: HeaderAuth
    timeout: httpx.Timeout


def _arguments(
    headers: AuthorizationHeaderProvider, options: DownstreamApiOptions
) -> _ClientArguments:
    """What both clients take: the section's BaseUrl, its auth, identity-web's timeouts."""
    auth = HeaderAuth(headers, options)
    return {"base_url": options.base_url or "", "auth": auth, "timeout": DEFAULT_TIMEOUT}


def client(
    headers: AuthorizationHeaderProvider,
    options: DownstreamApiOptions,
    ca_bundle: str | None,
    connect_to: ConnectTo | None = None,
) -> httpx.Client:
    """An `httpx.Client` for the section: its BaseUrl, its header, its certificate when bound
    (and the resolver seam's routes, `transport._connect_to`)."""
    transport = BoundTransport(ca_bundle, connect_to)
    return httpx.Client(transport=transport, **_arguments(headers, options))


def async_client(
    headers: AuthorizationHeaderProvider,
    options: DownstreamApiOptions,
    ca_bundle: str | None,
    connect_to: ConnectTo | None = None,
) -> httpx.AsyncClient:
    """`client` for asyncio code."""
    transport = AsyncBoundTransport(ca_bundle, connect_to)
    return httpx.AsyncClient(transport=transport, **_arguments(headers, options))
