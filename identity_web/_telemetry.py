"""OpenTelemetry spans, when `opentelemetry-api` is installed (`pip install identity-web[otel]`).

Three kinds of span, each opened by one hook where the work runs:

- `identity_web.acquire_token`: a network acquisition, i.e. a cache miss (the leader of a
  shared acquisition). A cache hit opens no span: the hit path stays a key computation and one
  dict read. `identity_web.cache_hit` is true only when the leader found that another caller
  had just stored the token.
- `identity_web.http`: one HTTP request a driver sends (every retry attempt is its own span),
  tagged `identity_web.request.kind`: `token` (an OAuth2 token request), `imds` (the instance
  metadata service), or `http` (anything else, e.g. a downstream API).
- `identity_web.downstream`: one `DownstreamApi` call, around its token and its request.

Attributes are names, types, hosts and statuses: never a token, an assertion, a secret, a
header value, a request body or a query string. Without the package every hook returns what it
was given after one module-level check, so the cost is a global read and a branch. With the
package but no tracer provider set (the API alone, or its no-op provider), every span would be a
non-recording one that still costs context switches on each call: the hooks then run the work
bare, deciding per call (a provider may be set after the services are built).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from identity_web.protocol._http import HttpRequest, HttpResponse
from identity_web.protocol.steps import Step

if TYPE_CHECKING:
    from identity_web._results import AcquireTokenResult
    from identity_web.acquisition._plan import AcquisitionPlan
    from identity_web.downstream._response import DownstreamResponse
    from identity_web.settings import DownstreamApiOptions

try:
    from opentelemetry import trace
except ImportError:  # the `otel` extra is not installed: every hook is a no-op
    _tracer: Any = None
    _NO_PROVIDER: tuple[type, ...] = ()
else:
    from identity_web._version import __version__

    _tracer = trace.get_tracer("identity_web", __version__)
    #: What `get_tracer_provider()` returns while no provider has been set, or a no-op one.
    _NO_PROVIDER = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)

T = TypeVar("T")

CREDENTIAL_SOURCE = "identity_web.credential_source"
TOKEN_TYPE = "identity_web.token_type"  # noqa: S105 - an attribute name, not a secret
CACHE_HIT = "identity_web.cache_hit"
REQUEST_KIND = "identity_web.request.kind"
DOWNSTREAM_API = "identity_web.downstream_api"
SERVER_ADDRESS = "server.address"
METHOD = "http.request.method"
STATUS = "http.response.status_code"

_CREDENTIAL_SOURCES = {
    "SecretCredential": "client_secret",
    "CertificateCredential": "certificate",
    "AssertionCredential": "signed_assertion",
}


def enabled() -> bool:
    """Whether spans can be made (`opentelemetry-api` is importable)."""
    return _tracer is not None


def recording() -> bool:
    """Whether spans are made now: the package is importable and a tracer provider is set."""
    return _tracer is not None and not isinstance(trace.get_tracer_provider(), _NO_PROVIDER)


# -- token acquisition ------------------------------------------------------------------------


def acquisition(step: Step[AcquireTokenResult], plan: AcquisitionPlan) -> Step[AcquireTokenResult]:
    """`step` (a network acquisition for `plan`) inside an `identity_web.acquire_token` span."""
    if not recording():
        return step
    return _spanned(step, "identity_web.acquire_token", _plan_attributes(plan), _acquired)


def _plan_attributes(plan: AcquisitionPlan) -> dict[str, Any]:
    if plan.managed_identity is not None:
        source = "managed_identity"
    else:
        source = _CREDENTIAL_SOURCES.get(type(plan.credential).__name__, "none")
    return {CREDENTIAL_SOURCE: source, TOKEN_TYPE: str(plan.key.token_type), CACHE_HIT: False}


def _acquired(span: Any, result: AcquireTokenResult) -> None:
    span.set_attribute(TOKEN_TYPE, str(result.token_type))
    span.set_attribute(CACHE_HIT, result.token_source.name == "CACHE")
    if result.token_endpoint:
        span.set_attribute(SERVER_ADDRESS, _host(result.token_endpoint))


# -- downstream calls -------------------------------------------------------------------------


def downstream(
    step: Step[DownstreamResponse], options: DownstreamApiOptions, *, api: str
) -> Step[DownstreamResponse]:
    """`step` (one call of downstream API `api`) inside an `identity_web.downstream` span."""
    if not recording():
        return step
    attributes = {
        DOWNSTREAM_API: api,
        METHOD: options.http_method.upper(),
        SERVER_ADDRESS: _host(options.base_url or ""),
    }
    return _spanned(step, "identity_web.downstream", attributes, _answered)


def _answered(span: Any, response: DownstreamResponse) -> None:
    span.set_attribute(STATUS, response.status)
    span.set_attribute(TOKEN_TYPE, str(response.token_type) if response.token_type else "none")


# -- HTTP requests (the drivers' senders) -----------------------------------------------------


def traced_send(
    send: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """`send`, each request in an `identity_web.http` span (`send` itself without the package)."""
    if _tracer is None:
        return send

    def traced(request: HttpRequest) -> HttpResponse:
        if not recording():
            return send(request)
        with _request_span(request) as record:
            return record(send(request))

    return traced


def traced_send_async(
    send: Callable[[HttpRequest], Awaitable[HttpResponse]],
) -> Callable[[HttpRequest], Awaitable[HttpResponse]]:
    """`traced_send` for an async sender."""
    if _tracer is None:
        return send

    def traced(request: HttpRequest) -> Awaitable[HttpResponse]:
        return _traced_async(send, request) if recording() else send(request)

    return traced


async def _traced_async(
    send: Callable[[HttpRequest], Awaitable[HttpResponse]], request: HttpRequest
) -> HttpResponse:
    with _request_span(request) as record:
        return record(await send(request))


@contextmanager
def _request_span(request: HttpRequest) -> Iterator[Callable[[HttpResponse], HttpResponse]]:
    attributes = {
        REQUEST_KIND: request_kind(request),
        METHOD: request.method,
        SERVER_ADDRESS: _host(request.url),
    }
    with _tracer.start_as_current_span("identity_web.http", attributes=attributes) as span:

        def record(response: HttpResponse) -> HttpResponse:
            span.set_attribute(STATUS, response.status)
            return response

        yield record


def request_kind(request: HttpRequest) -> str:
    """`imds`, `token` or `http`: what a request is, from its shape (no label travels with it)."""
    if "Metadata" in request.headers or urlsplit(request.url).path.startswith("/metadata/"):
        return "imds"
    if request.form is not None and "grant_type" in request.form:
        return "token"
    return "http"


# -- shared -----------------------------------------------------------------------------------


def _spanned(
    step: Step[T], name: str, attributes: dict[str, Any], finish: Callable[[Any, T], None]
) -> Step[T]:
    """`step` run inside a current span: the effects it yields (its HTTP requests) are performed
    by the driver while the span is current, so their spans are its children. A driver resumes
    a step in the thread or task that started it, so the context is detached where it was
    attached."""
    with _tracer.start_as_current_span(name, attributes=attributes) as span:
        result = yield from step
        finish(span, result)
        return result


def _host(url: str) -> str:
    return urlsplit(url).hostname or ""
