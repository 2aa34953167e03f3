"""Build the downstream `HttpRequest` from effective options and an authorization header (pure)."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import quote, urlsplit

from identity_web._errors import ConfigurationError, ConfigurationProblem, InvalidRequestError
from identity_web._results import AuthorizationHeaderInformation
from identity_web.protocol._http import HttpRequest
from identity_web.protocol._tokens import TokenType
from identity_web.settings import DownstreamApiOptions, plain_http_refusal

DEFAULT_ACCEPT = "application/json"
DEFAULT_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class RequestBody:
    """Encoded request content and its media type."""

    data: bytes
    content_type: str

    def __repr__(self) -> str:
        return f"RequestBody({self.content_type}, {len(self.data)} bytes)"


def encode_body(
    *, content: bytes | str | None, json_value: object, content_type: str | None
) -> RequestBody | None:
    """`json_value` as UTF-8 JSON, or `content` as given (str → UTF-8); None when neither.

    The media type is the configured `ContentType` (default `application/json`).
    """
    if content is not None and json_value is not None:
        raise InvalidRequestError("", "pass either content= or json=, not both")
    media = content_type or DEFAULT_CONTENT_TYPE
    if json_value is not None:
        return RequestBody(json.dumps(json_value).encode("utf-8"), media)
    if content is None:
        return None
    data = content.encode("utf-8") if isinstance(content, str) else bytes(content)
    return RequestBody(data, media)


def api_url(
    base_url: str | None, relative_path: str | None, query: Mapping[str, str] | None, *, api: str
) -> str:
    """`BaseUrl` + `/` + `RelativePath` + URI-escaped `ExtraQueryParameters`.

    The joint has exactly one `/`; an empty `RelativePath` leaves `BaseUrl` as it is. Query
    parameters are appended with `?` or, when the URL already has a query, `&`.
    """
    if not base_url or not base_url.strip():
        raise ConfigurationError([ConfigurationProblem(f"{api}.BaseUrl", "is required")])
    url = base_url.strip()
    if relative_path:
        url = url.rstrip("/") + "/" + relative_path.lstrip("/")
    if query:
        pairs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
        url += _query_separator(url) + pairs
    return url


def _query_separator(url: str) -> str:
    if url.endswith(("?", "&")):
        return ""
    return "&" if urlsplit(url).query else "?"


def effective_url(options: DownstreamApiOptions, *, api: str) -> str:
    return api_url(options.base_url, options.relative_path, options.extra_query_parameters, api=api)


def require_https_for_token(
    url: str, *, api: str, bound: bool, allow_http_to_loopback: bool = False
) -> None:
    """The one guard: no token of any kind (Bearer or bound) travels over anything but https,
    except a Bearer token to a loopback address with `AllowHttpToLoopback: true` (the rule is
    `settings.plain_http_refusal`, which `config validate` and `build()` apply too).

    Called before any token is acquired and again on the built request."""
    if not plain_http_refusal(url, bound=bound, allow_http_to_loopback=allow_http_to_loopback):
        return
    parts = urlsplit(url)
    raise InvalidRequestError(
        "",
        f"downstream API '{api}' would send a {TokenType.of(bound)} token to {parts.scheme}://"
        f"{parts.netloc}, which is not https; a token is never sent over plain HTTP. "
        f"Change {api}.BaseUrl to https:// (only for a Bearer token to a loopback address in "
        f"local development: set {api}.AllowHttpToLoopback to true).",
    )


@dataclass(frozen=True, slots=True)
class CallTarget:
    """What a call's options fix before any token or body: the URL (and whether it is https),
    the method, and the headers besides Authorization — Accept, the allowed extras, and
    Content-Type for a body of `content_type`. Made once per configured options object.

    `last` remembers the bodiless request last built with an authorization header (the header
    object and the request, both immutable): a cached token hands out one header object, so a
    warm call sends the request it sent before, checked when it was built."""

    url: str
    method: str
    https: bool
    headers: Mapping[str, str]
    content_type: str
    body_headers: Mapping[str, str]
    last: list[tuple[AuthorizationHeaderInformation, HttpRequest] | None] = field(
        default_factory=lambda: [None], compare=False, repr=False
    )


def call_target(options: DownstreamApiOptions, *, api: str, url: str | None = None) -> CallTarget:
    """The `CallTarget` of `options` (`url`: `effective_url(options)` when the caller has it)."""
    url = url or effective_url(options, api=api)
    accept = {"Accept": options.accept_header or DEFAULT_ACCEPT}
    content_type = options.content_type or DEFAULT_CONTENT_TYPE
    extra = options.extra_header_parameters
    return CallTarget(
        url=url,
        method=(options.http_method or "GET").strip().upper(),
        https=urlsplit(url).scheme.lower() == "https",
        headers=MappingProxyType(merge_extra_headers(accept, extra, api=api)),
        content_type=content_type,
        body_headers=MappingProxyType(
            merge_extra_headers({**accept, "Content-Type": content_type}, extra, api=api)
        ),
    )


def build_request(
    options: DownstreamApiOptions,
    header: AuthorizationHeaderInformation | None,
    body: RequestBody | None,
    *,
    api: str,
    url: str | None = None,
) -> HttpRequest:
    """The request to send: method, URL, Accept/Content-Type, allowed extra headers, auth.

    `url` is `effective_url(options)` when the caller has it already. A token travels only
    over https, and a bound one only with its certificate (`tls_identity`).
    """
    return request_for(call_target(options, api=api, url=url), header, body, options, api=api)


def request_for(
    target: CallTarget,
    header: AuthorizationHeaderInformation | None,
    body: RequestBody | None,
    options: DownstreamApiOptions,
    *,
    api: str,
) -> HttpRequest:
    """`build_request` from a `CallTarget`: one header dict per call, no URL parsing; for the
    header of the last bodiless request, that request again."""
    last = target.last[0]
    if body is None and last is not None and last[0] is header:
        return last[1]
    if body is None:
        headers: Mapping[str, str] = target.headers
    elif body.content_type == target.content_type:
        headers = target.body_headers
    else:
        present = {"Accept": target.headers["Accept"], "Content-Type": body.content_type}
        headers = merge_extra_headers(present, options.extra_header_parameters, api=api)
    if header is not None:
        _check_binding(target, header, api=api, allow_http=options.allow_http_to_loopback)
        headers = {**headers, "Authorization": header.header_value}
    request = HttpRequest(
        method=target.method,
        url=target.url,
        headers=headers,
        content=body.data if body is not None else None,
        tls_identity=header.binding_certificate if header is not None else None,
        downstream=True,
        deadline=None,  # the application's time: no overall deadline (transport._deadline)
    )
    if body is None and header is not None:
        target.last[0] = (header, request)  # one reference swapped: safe across threads
    return request


def _check_binding(
    target: CallTarget, header: AuthorizationHeaderInformation, *, api: str, allow_http: bool
) -> None:
    bound = header.token_type is TokenType.MTLS_POP
    if bound and header.binding_certificate is None:
        raise InvalidRequestError(
            "",
            f"downstream API '{api}': the mtls_pop token came without its binding certificate; "
            "a bound token is never sent without it.",
        )
    if not target.https:
        require_https_for_token(target.url, api=api, bound=bound, allow_http_to_loopback=allow_http)


# -- which extra headers a configured request may carry ------------------------------------

logger = logging.getLogger(__name__)

# Headers a configuration must never set on a downstream request: credentials, host routing and
# the identity headers front ends (App Service Easy Auth, proxies) inject. Compared lower-cased.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "host",
        "x-original-url",
        "x-ms-client-principal",
        "x-ms-client-principal-id",
        "x-ms-client-principal-name",
        "x-ms-client-principal-idp",
    }
)
RESERVED_PREFIXES = ("x-forwarded-", "x-ms-token-")


def is_reserved_header(name: str) -> bool:
    """True for a header name `ExtraHeaderParameters` may not set (case-insensitive)."""
    lowered = name.strip().lower()
    return lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIXES)


def merge_extra_headers(
    present: Mapping[str, str], extra: Mapping[str, str] | None, *, api: str
) -> dict[str, str]:
    """`present` plus the allowed `extra` headers.

    Reserved names and names already present (case-insensitively, including earlier extras) are
    skipped with a warning that names the header but never its value.
    """
    merged = dict(present)
    seen = {name.lower() for name in merged}
    for name, value in (extra or {}).items():
        lowered = name.lower()
        if is_reserved_header(name):
            logger.warning("%s: reserved header %r in ExtraHeaderParameters ignored", api, name)
        elif lowered in seen:
            logger.warning("%s: duplicate header %r in ExtraHeaderParameters ignored", api, name)
        else:
            merged[name] = value
            seen.add(lowered)
    return merged
