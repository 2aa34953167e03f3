"""One downstream call as a step: authorize (a sub-step), send, retry once on a claims challenge.

The step owns every decision: anonymous or not, which request, whether a 401 claims challenge
earns one retry with a fresh token. The header is a sub-step (`header_step`), so one driver
runs the whole call, sync or async.
"""

from __future__ import annotations

import logging
from typing import Protocol

from identity_web._downstream._challenge import claims_challenge
from identity_web._downstream._options import with_claims
from identity_web._downstream._request import (
    RequestBody,
    build_request,
    effective_url,
    require_https_for_token,
)
from identity_web._downstream._response import DownstreamResponse
from identity_web._results import AuthorizationHeaderInformation
from identity_web.protocol._http import HttpResponse, redact_url
from identity_web.protocol._tokens import TokenType
from identity_web.protocol.steps import Step
from identity_web.settings import DownstreamApiOptions

logger = logging.getLogger(__name__)


class HeaderSteps(Protocol):
    """What the call needs from `AuthorizationHeaderProvider`."""

    def header_step(
        self, options: DownstreamApiOptions
    ) -> Step[AuthorizationHeaderInformation]: ...


def call_step(
    options: DownstreamApiOptions, body: RequestBody | None, *, api: str, headers: HeaderSteps
) -> Step[DownstreamResponse]:
    """Authorize (unless anonymous), send, and retry once on a 401 claims challenge."""
    url = effective_url(options, api=api)
    if options.scopes:
        require_https_for_token(url, api=api, token_type=TokenType.of(options.is_mtls_pop))
    header = yield from _authorize(options, headers)
    response: HttpResponse = yield build_request(options, header, body, api=api)
    claims = claims_challenge(response) if header is not None else None
    if claims is not None:
        logger.info("%s: 401 with a claims challenge; new token, one retry", api)
        options = with_claims(options, claims)
        header = yield from _authorize(options, headers)
        response = yield build_request(options, header, body, api=api)
    logger.debug(
        "%s: %s %s -> %d", api, options.http_method.upper(), redact_url(url), response.status
    )
    return DownstreamResponse.from_http(
        response,
        url=url,
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
