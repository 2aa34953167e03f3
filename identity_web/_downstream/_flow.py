"""One downstream call as a sans-IO flow, and the two drivers that run it.

The flow yields two kinds of step: `HeaderNeeded` (ask the authorization header provider) and
`HttpRequest` (send it). It owns every decision: anonymous or not, which request, whether a 401
claims challenge earns one retry with a fresh token. The drivers only answer the steps, the
sync one by calling and the async one by awaiting; nothing else differs between them.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Protocol, TypeAlias

from identity_web._downstream._challenge import claims_challenge
from identity_web._downstream._options import with_claims
from identity_web._downstream._request import (
    RequestBody,
    build_request,
    check_transport_security,
    effective_url,
    loggable,
    token_scheme,
)
from identity_web._downstream._response import DownstreamResponse
from identity_web._results import AuthorizationHeaderInformation
from identity_web.protocol._http import HttpRequest, HttpResponse
from identity_web.settings import DownstreamApiOptions

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HeaderNeeded:
    """Step: the flow needs an authorization header for these options."""

    options: DownstreamApiOptions


CallStep: TypeAlias = HeaderNeeded | HttpRequest
CallReply: TypeAlias = AuthorizationHeaderInformation | HttpResponse
CallFlow: TypeAlias = Generator[CallStep, CallReply, DownstreamResponse]


class HeaderProvider(Protocol):
    """What the flow needs from `AuthorizationHeaderProvider`."""

    def create_authorization_header(
        self, options: DownstreamApiOptions
    ) -> AuthorizationHeaderInformation: ...

    async def create_authorization_header_async(
        self, options: DownstreamApiOptions
    ) -> AuthorizationHeaderInformation: ...


class Sender(Protocol):
    """What the flow needs from `HttpTransport`: send one request, no retry of its own."""

    def send(self, request: HttpRequest) -> HttpResponse: ...

    async def send_async(self, request: HttpRequest) -> HttpResponse: ...


def call_flow(options: DownstreamApiOptions, body: RequestBody | None, *, api: str) -> CallFlow:
    """Authorize (unless anonymous), send, and retry once on a 401 claims challenge."""
    url = effective_url(options, api=api)
    check_transport_security(url, bound=bool(options.scopes) and options.is_mtls_pop, api=api)
    header = yield from _authorize(options)
    response = _expect_response((yield build_request(options, header, body, api=api)))
    claims = claims_challenge(response) if header is not None else None
    if claims is not None:
        logger.info("%s: 401 with a claims challenge; new token, one retry", api)
        options = with_claims(options, claims)
        header = yield from _authorize(options)
        response = _expect_response((yield build_request(options, header, body, api=api)))
    logger.debug(
        "%s: %s %s -> %d", api, options.http_method.upper(), loggable(url), response.status
    )
    return DownstreamResponse.from_http(
        response,
        url=url,
        token_type=token_scheme(header),
        binding_certificate=header.binding_certificate if header is not None else None,
    )


def _authorize(
    options: DownstreamApiOptions,
) -> Generator[CallStep, CallReply, AuthorizationHeaderInformation | None]:
    if not options.scopes:
        logger.info("no Scopes configured: calling anonymously")
        return None
    reply = yield HeaderNeeded(options)
    if not isinstance(reply, AuthorizationHeaderInformation):
        raise TypeError(f"expected AuthorizationHeaderInformation, got {type(reply).__name__}")
    return reply


def _expect_response(reply: CallReply) -> HttpResponse:
    if not isinstance(reply, HttpResponse):
        raise TypeError(f"expected HttpResponse, got {type(reply).__name__}")
    return reply


def run_call(flow: CallFlow, headers: HeaderProvider, sender: Sender) -> DownstreamResponse:
    """Drive `flow` synchronously."""
    step = next(flow)
    while True:
        reply: CallReply
        if isinstance(step, HeaderNeeded):
            reply = headers.create_authorization_header(step.options)
        else:
            reply = sender.send(step)
        try:
            step = flow.send(reply)
        except StopIteration as done:
            result: DownstreamResponse = done.value
            return result


async def run_call_async(
    flow: CallFlow, headers: HeaderProvider, sender: Sender
) -> DownstreamResponse:
    """Drive `flow` on the running event loop."""
    step = next(flow)
    while True:
        reply: CallReply
        if isinstance(step, HeaderNeeded):
            reply = await headers.create_authorization_header_async(step.options)
        else:
            reply = await sender.send_async(step)
        try:
            step = flow.send(reply)
        except StopIteration as done:
            result: DownstreamResponse = done.value
            return result
