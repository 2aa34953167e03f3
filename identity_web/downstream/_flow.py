"""One downstream call as a step: authorize (a sub-step), send, retry once on a claims challenge.

The step owns every decision: anonymous or not, which request, whether a 401 claims challenge
earns one retry with a fresh token. The header is a sub-step (`header_step`), so one driver
runs the whole call, sync or async.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import Protocol

from identity_web._results import AuthorizationHeaderInformation
from identity_web.downstream._options import with_claims
from identity_web.downstream._request import (
    CallTarget,
    RequestBody,
    call_target,
    request_for,
    require_https_for_token,
)
from identity_web.downstream._response import DownstreamResponse
from identity_web.protocol._http import HttpResponse, redact_url
from identity_web.protocol.steps import Step
from identity_web.settings import DownstreamApiOptions, check_call

logger = logging.getLogger(__name__)


class HeaderSteps(Protocol):
    """What the call needs from `AuthorizationHeaderProvider`."""

    def cached_header(
        self, options: DownstreamApiOptions
    ) -> AuthorizationHeaderInformation | None: ...

    def header_step(
        self, options: DownstreamApiOptions
    ) -> Step[AuthorizationHeaderInformation]: ...


def call_step(
    options: DownstreamApiOptions,
    body: RequestBody | None,
    *,
    api: str,
    headers: HeaderSteps,
    target: CallTarget | None = None,
) -> Step[DownstreamResponse]:
    """Authorize (unless anonymous), send, and retry once on a 401 claims challenge.

    `target` is `call_target(options)` when the caller remembers it. A cached token's header
    is taken without a sub-step, so a warm call yields once: its request.
    """
    target = target or call_target(options, api=api)
    if not options.scopes:
        check_call(options, api=api)  # asked for a token with no scope: refused, never anonymous
    elif not target.https:
        require_https_for_token(
            target.url,
            api=api,
            bound=options.is_mtls_pop,
            allow_http_to_loopback=options.allow_http_to_loopback,
        )
    header = headers.cached_header(options) if options.scopes else None
    if header is None:
        header = yield from _authorize(options, headers)
    response: HttpResponse = yield request_for(target, header, body, options, api=api)
    claims = claims_challenge(response) if header is not None and response.status == 401 else None
    if claims is not None:
        logger.info("%s: 401 with a claims challenge; new token, one retry", api)
        options = with_claims(options, claims)
        header = yield from _authorize(options, headers)
        response = yield request_for(target, header, body, options, api=api)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug("%s: %s %s -> %d", api, target.method, redact_url(target.url), response.status)
    return DownstreamResponse.from_http(
        response,
        url=target.url,
        token_type=header.token_type if header is not None else None,
        binding_certificate=header.binding_certificate if header is not None else None,
    )


def _authorize(
    options: DownstreamApiOptions, headers: HeaderSteps
) -> Step[AuthorizationHeaderInformation | None]:
    if not options.scopes:
        logger.info("no Scopes configured: calling anonymously")
        return None
    return (yield from headers.header_step(options))


# -- claims challenges in WWW-Authenticate (Continuous Access Evaluation) -----------------


# auth-param = token "=" ( token / quoted-string )   (RFC 9110 §11.2)
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


def www_authenticate_params(header: str) -> dict[str, str]:
    """Every `name=value` auth-param of a `WWW-Authenticate` value, names lower-cased.

    Several challenges joined by commas are read as one list; the first occurrence wins.
    """
    params: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(header):
        name = match.group(1).lower()
        quoted, token = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
        params.setdefault(name, value)
    return params


def decode_claims(value: str) -> str | None:
    """The claims JSON of a challenge: base64 (standard or url-safe, padding optional) or raw JSON.

    Returns None when the value is neither, so no retry is attempted on garbage.
    """
    text = value.strip()
    if text.startswith("{"):
        return text if _is_json_object(text) else None
    padded = text + "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        claims = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return claims if _is_json_object(claims) else None


def claims_challenge(response: HttpResponse) -> str | None:
    """The decoded claims of a 401 claims challenge, else None."""
    if response.status != 401:
        return None
    params = www_authenticate_params(response.header("www-authenticate"))
    raw = params.get("claims")
    if not raw:
        return None
    claims = decode_claims(raw)
    if claims is None:
        logger.warning("401 carries a claims challenge that is not base64 JSON; not retrying")
    return claims


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
