"""`HttpTransport`: sends sans-IO requests over httpx and drives flows, sync and async.

Each request goes through the pooled client of its `tls_identity` (none, or one binding
certificate), so a certificate is presented only where a flow asked for it. The request's
retry policy decides about retries; sleeping and the clock are injected. Failures without an
HTTP answer become `NetworkError`s naming the URL (without its query); bodies, tokens and
headers are never logged.
"""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Coroutine, Generator
from importlib import metadata
from types import TracebackType
from typing import Any, NamedTuple, TypeVar
from urllib.parse import urlsplit

import httpx

from identity_web._errors import InvalidRequestError, NetworkError
from identity_web.protocol._binding import BindingCertificate
from identity_web.protocol._http import HttpRequest, HttpResponse, redact_url
from identity_web.protocol.steps import Step
from identity_web.transport import _assignment
from identity_web.transport._connect_to import AsyncRoutedTransport, ConnectTo, RoutedTransport
from identity_web.transport._deadline import (
    Deadline,
    DeadlineExceededError,
    send_within,
    send_within_async,
)
from identity_web.transport._driver import Drivers
from identity_web.transport._pinning import PinnedContexts
from identity_web.transport._pool import ClientPool, PoolClosedError
from identity_web.transport._ssl import ssl_context_for

logger = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C", httpx.Client, httpx.AsyncClient)


def _default_user_agent() -> str:
    try:
        return f"identity-web/{metadata.version('identity-web')}"
    except metadata.PackageNotFoundError:
        return "identity-web"


DEFAULT_USER_AGENT = _default_user_agent()
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
#: Every connection a client opened may stay idle for 30 s (httpx keeps 20 by default). With
#: fewer kept than opened, a burst of more concurrent calls than that closes a connection as
#: each answer comes back and opens a new one for the next call: a TLS handshake per call
#: (with a client certificate, a private-key signature), which slows the calls, which keeps more
#: of them in flight, which keeps the churn going (seen under 100 asyncio callers: a thousand
#: handshakes in 3,000 calls, a quarter of the throughput gone).
DEFAULT_LIMITS = httpx.Limits(
    max_connections=100, max_keepalive_connections=100, keepalive_expiry=30.0
)

#: How many built httpx requests a transport keeps for reuse (`HttpTransport._build`); the map
#: is emptied when it is full (a warm process sends a few distinct requests, each many times).
REUSED_REQUESTS = 256


class _NoCookies(http.cookiejar.CookieJar):
    """The cookie jar of every pooled client: it keeps nothing.

    A pooled client is shared by every caller and every token of one certificate, so a cookie a
    server set on one call would travel with unrelated calls (another user's, another API's on
    the same host). Identity traffic needs none (Entra's cookies are for browsers). httpx uses
    a `CookieJar` passed to the client as it is and asks it to extract each response's cookies:
    the override skips parsing them, the policy refuses any set another way. An explicit
    `Cookie` header of an `HttpRequest` still goes out: it is part of the request."""

    def __init__(self) -> None:
        super().__init__(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))

    def extract_cookies(self, response: Any, request: Any) -> None:
        return


class ClientKey(NamedTuple):
    """What makes two requests need different connections (a tuple: hashed and compared in C,
    as the pool does on every request). Downstream API calls and identity traffic never share a
    client (`HttpRequest.downstream`)."""

    thumbprint: str | None
    pin: str | None = None
    direct: bool = False
    downstream: bool = False


AsyncKey = tuple[ClientKey, asyncio.AbstractEventLoop]


class HttpTransport:
    """Sends `HttpRequest`s and runs flows; owns the pools of sync and async httpx clients.

    Async clients are pooled per event loop as well, since httpx connections belong to the loop
    that opened them. Call `close()` (or `await aclose()`) when done. `deadline` (seconds), when
    given, replaces the overall deadline of every request that has one (`transport._deadline`).
    """

    def __init__(
        self,
        *,
        ca_bundle: str | None = None,
        pool_size: int = 64,
        sleep: Callable[[float], None] = time.sleep,
        async_sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        user_agent: str = DEFAULT_USER_AGENT,
        connect_to: ConnectTo | None = None,
        deadline: float | None = None,
    ) -> None:
        self._ca_bundle = ca_bundle
        self._deadline = deadline
        self._connect_to = connect_to or ConnectTo()
        self._sleep = sleep
        self._async_sleep = async_sleep
        self._clock = clock
        self._headers = {"User-Agent": user_agent}
        self._pinned = PinnedContexts()
        self._closing: set[asyncio.Task[None]] = set()
        self._clients: ClientPool[ClientKey, httpx.Client] = ClientPool(pool_size, _close_client)
        self._async_clients: ClientPool[AsyncKey, httpx.AsyncClient] = ClientPool(
            pool_size, self._dispose_async
        )
        self._drivers = Drivers(
            self.attempt, self.attempt_async, sleep=sleep, async_sleep=async_sleep, clock=clock
        )
        #: (id of the HttpRequest, id of the client) -> (the request, the client, what was built
        #: for them): both held, so their ids stay theirs while the entry lives (`_build`)
        self._reused: dict[
            tuple[int, int], tuple[HttpRequest, httpx.Client | httpx.AsyncClient, httpx.Request]
        ] = {}

    # -- clients ---------------------------------------------------------------------------

    def client_for(self, binding: BindingCertificate | None) -> httpx.Client:
        """The pooled client presenting `binding` (None: no client certificate), for API calls
        (the one downstream requests use). Callers must not close it, and must send bound
        requests only to https URLs.
        """
        key = ClientKey(binding.x5t_s256 if binding else None, downstream=True)
        return self._clients.get(key, lambda: self._new_client(httpx.Client, binding, None))

    def async_client_for(self, binding: BindingCertificate | None) -> httpx.AsyncClient:
        """The pooled async client for `binding` on the running event loop (call it from one)."""
        thumbprint = binding.x5t_s256 if binding else None
        key = (ClientKey(thumbprint, downstream=True), asyncio.get_running_loop())
        return self._async_clients.get(
            key, lambda: self._new_client(httpx.AsyncClient, binding, None)
        )

    def _new_client(
        self,
        kind: type[C],
        binding: BindingCertificate | None,
        pin: str | None,
        direct: bool = False,
    ) -> C:
        """A new `httpx.Client` or `httpx.AsyncClient`: the one client maker.

        With a resolver seam (`connect_to`), its transport connects the routed names to their
        addresses and keeps URL, Host and TLS server name (`transport._connect_to`). A
        `direct` client ignores the proxy variables (managed identity endpoints)."""
        verify = self._context(binding, pin)
        routed: dict[str, httpx.BaseTransport | httpx.AsyncBaseTransport] = {}
        if self._connect_to and kind is httpx.Client:
            inner = httpx.HTTPTransport(verify=verify, limits=DEFAULT_LIMITS)
            routed["transport"] = RoutedTransport(inner, self._connect_to)
        elif self._connect_to:
            inner_async = httpx.AsyncHTTPTransport(verify=verify, limits=DEFAULT_LIMITS)
            routed["transport"] = AsyncRoutedTransport(inner_async, self._connect_to)
        client = kind(
            verify=verify,
            follow_redirects=False,
            timeout=DEFAULT_TIMEOUT,
            limits=DEFAULT_LIMITS,
            headers=self._headers,
            cookies=_NoCookies(),
            trust_env=not direct,
            **routed,  # type: ignore[arg-type]  # the transport matches `kind`, as built above
        )
        _assignment.install(client)  # one idle connection per waiting request (`_assignment`)
        return client

    def _context(self, binding: BindingCertificate | None, pin: str | None) -> ssl.SSLContext:
        if pin is None:
            return ssl_context_for(binding, ca_bundle=self._ca_bundle)
        context = self._pinned.cached(pin, binding)
        if context is None:  # pragma: no cover - the senders probe before creating clients
            raise RuntimeError("pinned context requested before the server was probed")
        return context

    # -- sending one request -----------------------------------------------------------

    def attempt(self, request: HttpRequest) -> HttpResponse:
        """Send `request` once; `NetworkError` when no HTTP answer comes back."""
        check_request(request)
        started = self._clock()
        deadline = None if request.deadline is None else self._deadline_of(request.deadline)
        binding, pin = request.tls_identity, request.pinned_server_sha1
        try:
            if pin is not None:
                self._pinned.context_for(request.url, pin, binding, request.timeout)
            key = ClientKey(
                binding.x5t_s256 if binding else None, pin, request.direct, request.downstream
            )
            create = functools.partial(self._new_client, httpx.Client, binding, pin, request.direct)
            entry = self._clients.acquire(key, create)  # a lease; lock-free when pooled
            try:
                client = entry.client
                try:
                    if deadline is None:
                        response = client.send(self._build(client, request))
                    else:
                        response = send_within(client, self._build(client, request), deadline)
                except httpx.RemoteProtocolError as dropped:
                    _resend_or_raise(request, dropped)
                    if deadline is None:
                        response = client.send(self._build(client, request))
                    else:
                        response = send_within(client, self._build(client, request), deadline)
            finally:
                self._clients.release(key, entry)
        except (httpx.HTTPError, httpx.InvalidURL, PoolClosedError) as error:
            raise _network_error(request, error) from error
        return _received(request, response, self._clock() - started)

    async def attempt_async(self, request: HttpRequest) -> HttpResponse:
        """`attempt` on the event loop: a missing client (TLS files, a pinned server's probe)
        is made in a worker thread; the pooled one is leased without a lock."""
        check_request(request)
        started = self._clock()
        deadline = None if request.deadline is None else self._deadline_of(request.deadline)
        binding, pin = request.tls_identity, request.pinned_server_sha1
        thumbprint = binding.x5t_s256 if binding else None
        key = (
            ClientKey(thumbprint, pin, request.direct, request.downstream),
            asyncio.get_running_loop(),
        )
        try:
            entry = self._async_clients.acquire_existing(key)
            while entry is None:
                await asyncio.to_thread(self._add_async_client, key, request)
                entry = self._async_clients.acquire_existing(key)
            try:
                client = entry.client
                try:
                    if deadline is None:
                        response = await client.send(self._build(client, request))
                    else:
                        built = self._build(client, request)
                        response = await send_within_async(client, built, deadline)
                except httpx.RemoteProtocolError as dropped:
                    _resend_or_raise(request, dropped)
                    if deadline is None:
                        response = await client.send(self._build(client, request))
                    else:
                        built = self._build(client, request)
                        response = await send_within_async(client, built, deadline)
            finally:
                self._async_clients.release(key, entry)
        except (httpx.HTTPError, httpx.InvalidURL, PoolClosedError) as error:
            raise _network_error(request, error) from error
        return _received(request, response, self._clock() - started)

    def _deadline_of(self, seconds: float) -> Deadline:
        return Deadline(self._deadline or seconds, self._clock)

    def _build(
        self, client: httpx.Client | httpx.AsyncClient, request: HttpRequest
    ) -> httpx.Request:
        """The httpx request for `request` on `client`: built again each time, except a
        downstream request without a deadline and without a form or JSON body, which is built
        once per client and sent again as it is (a warm `DownstreamApi.call` hands over the same
        `HttpRequest` each time: `downstream._request.request_for`).

        Sending does not change such a request (httpx 0.29, httpcore 1.0.9, sync and async):
        `Client.send` fills a timeout only when the request has none (`build_request` sets
        one); its auth is the no-op `Auth`, which yields the request untouched (no credentials
        in the URL: checked before keeping it); our clients have no event hooks and follow no
        redirects; cookies are neither added nor stored (`_NoCookies`, and
        `build_request` merges none from an empty jar); the transport makes a fresh httpcore
        request from it, and the routed transport a copy; a bytes or empty body is a
        `ByteStream`, iterable again and again. A deadline would cap the timeouts in place
        (`Deadline.cap`), so such requests are never kept. Identity requests (client
        assertions, secrets) are never kept either."""
        if (
            not request.downstream
            or request.deadline is not None
            or request.form is not None
            or request.json_body is not None
        ):
            return _built(client, request)
        key = (id(request), id(client))
        kept = self._reused.get(key)
        if kept is not None and kept[0] is request and kept[1] is client:
            return kept[2]
        built = _built(client, request)
        if not built.url.userinfo:  # httpx would add Basic credentials to it on each send
            if len(self._reused) >= REUSED_REQUESTS:
                self._reused.clear()
            self._reused[key] = (request, client, built)
        return built

    def _add_async_client(self, key: AsyncKey, request: HttpRequest) -> None:
        binding, pin = request.tls_identity, request.pinned_server_sha1
        if pin is not None:
            self._pinned.context_for(request.url, pin, binding, request.timeout)
        create = functools.partial(
            self._new_client, httpx.AsyncClient, binding, pin, request.direct
        )
        self._async_clients.get(key, create)

    # -- the drivers ------------------------------------------------------------------------

    def send(self, request: HttpRequest) -> HttpResponse:
        """Send `request`, applying its retry policy; raise `NetworkError` without an answer."""
        return self._drivers.run(_sent(request))

    async def send_async(self, request: HttpRequest) -> HttpResponse:
        """`send` for asyncio."""
        return await self._drivers.run_async(_sent(request))

    def run(self, step: Step[T]) -> T:
        """Run a step (`identity_web.protocol.steps`) with the sync driver."""
        return self._drivers.sync.run(step)

    def run_async(self, step: Step[T]) -> Coroutine[Any, Any, T]:
        """Run a step with the async driver, on the running event loop (await it). The driver's
        own coroutine: no frame of ours in between, which every suspension would cross."""
        return self._drivers.asynchronous.run(step)

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        """Close every pooled client (async ones as described in `_dispose_async`)."""
        self._close_sync_clients()
        for key, async_client in self._async_clients.close():
            self._dispose_async(key, async_client)

    async def aclose(self) -> None:
        """Close every pooled client, awaiting those of the running loop (the pools' locks and
        the sync clients' sockets are handled in a worker thread)."""
        await asyncio.to_thread(self._close_sync_clients)
        current = asyncio.get_running_loop()
        for key, async_client in await asyncio.to_thread(self._async_clients.close):
            if key[1] is current:
                await async_client.aclose()
            else:
                self._dispose_async(key, async_client)
        mine = [task for task in self._closing if task.get_loop() is current]
        if mine:
            await asyncio.gather(*mine)

    def _close_sync_clients(self) -> None:
        self._reused.clear()
        for _, client in self._clients.close():
            client.close()

    def __enter__(self) -> HttpTransport:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    async def __aenter__(self) -> HttpTransport:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def _dispose_async(self, key: AsyncKey, client: httpx.AsyncClient) -> None:
        """Close an async client that left the pool, on the loop that owns its connections.

        On that loop, when it is the running one: a task (kept until done). On a loop running in
        another thread: scheduled there. On an idle loop with no loop running here: run to
        completion on it. On a closed loop there is nothing left to close the connections
        with; the client is dropped.
        """
        loop = key[1]
        if loop.is_closed():
            logger.debug("dropping an async client whose event loop is closed")
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            task = loop.create_task(client.aclose())
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        elif loop.is_running():
            asyncio.run_coroutine_threadsafe(client.aclose(), loop)
        elif running is None:
            loop.run_until_complete(client.aclose())
        else:
            logger.debug("dropping an async client of an idle event loop")


def _close_client(key: ClientKey, client: httpx.Client) -> None:
    client.close()


#: Sent once more, on a fresh connection, when the server closed a kept-alive connection before
#: answering: safe methods only (RFC 9110 §9.2.1). A POST or PATCH is never resent blindly.
_RESENT_WHEN_DROPPED = frozenset({"GET", "HEAD", "OPTIONS"})


def _resend_or_raise(request: HttpRequest, dropped: httpx.RemoteProtocolError) -> None:
    """Return when `request` may be sent once more after the server dropped the connection
    without an answer (httpx has discarded that connection, so the next send opens a new one);
    else re-raise."""
    if request.method.upper() not in _RESENT_WHEN_DROPPED:
        raise dropped
    logger.debug(
        "%s %s: connection closed without an answer; sent once more",
        request.method,
        redact_url(request.url),
    )


def _built(client: httpx.Client | httpx.AsyncClient, request: HttpRequest) -> httpx.Request:
    """The httpx request: headers, timeout and one body (form, else JSON, else raw content)."""
    form = dict(request.form) if request.form is not None else None
    json_body = request.json_body if form is None else None
    content = request.content if form is None and json_body is None else None
    return client.build_request(
        request.method,
        request.url,
        headers=request.headers,  # httpx copies it into its own Headers
        data=form,
        json=json_body,
        content=content,
        timeout=request.timeout,
    )


def _received(request: HttpRequest, response: httpx.Response, seconds: float) -> HttpResponse:
    binding = request.tls_identity
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            "%s %s -> %d in %.3f s (client certificate %s)",
            request.method,
            redact_url(request.url),
            response.status_code,
            seconds,
            binding.x5t_s256 if binding else "none",
        )
    return HttpResponse(
        status=response.status_code,
        # httpx's `Headers` as they are, not copied: a Mapping whose names iterate lower-cased,
        # repeated fields joined with ", ", looked up case-insensitively
        headers=response.headers,
        body=response.content,
        url=request.url,  # redirects are never followed: the URL asked is the one that answered
    )


def _network_error(request: HttpRequest, error: Exception) -> NetworkError:
    url = redact_url(request.url)
    if isinstance(error, DeadlineExceededError):
        reason = str(error)
    elif isinstance(error, httpx.TimeoutException):
        reason = f"timed out after {request.timeout:g} s ({type(error).__name__})"
    else:
        reason = str(error) or type(error).__name__
    hint = ""
    if "CERTIFICATE_VERIFY_FAILED" in reason:
        hint = "; the server certificate is not trusted: set SSL_CERT_FILE or the CA bundle"
    logger.debug("%s %s failed: %s", request.method, url, reason)
    network_error = NetworkError(f"{request.method} {url} failed: {reason}{hint}", url=url)
    network_error.__cause__ = error
    return network_error


def _sent(request: HttpRequest) -> Generator[HttpRequest, HttpResponse, HttpResponse]:
    response: HttpResponse = yield request
    return response


# -- the checks every request passes before any I/O ----------------------------------------


def check_request(request: HttpRequest) -> None:
    """Refuse, before any I/O, a request that would expose a bound credential."""
    if request.tls_identity is None and not request.pinned_server_sha1:
        return
    if request.url[:8].lower() == "https://":  # the common case, without parsing the URL
        return
    scheme = urlsplit(request.url).scheme.lower()
    if request.tls_identity is not None and scheme != "https":
        raise InvalidRequestError(
            "",
            f"refusing to send {request.method} {redact_url(request.url)} with a client "
            f"certificate (x5t#S256 {request.tls_identity.x5t_s256}) over {scheme or 'no'} "
            "scheme: a bound request only goes over https",
        )
    if request.pinned_server_sha1 and scheme != "https":
        raise InvalidRequestError(
            "",
            f"refusing {request.method} {redact_url(request.url)}: a pinned server certificate "
            "needs an https URL",
        )
