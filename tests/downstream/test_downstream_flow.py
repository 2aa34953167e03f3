"""The call flow driven by hand: anonymous calls, claims-challenge retry, response helpers."""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from typing import Any

import pytest

from identity_web import (
    AuthorizationHeaderInformation,
    ConfigurationError,
    DownstreamApiError,
    InvalidRequestError,
)
from identity_web.downstream import DownstreamApi, DownstreamResponse
from identity_web.downstream._flow import call_step, claims_challenge, decode_claims
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.protocol.steps import Step
from identity_web.settings import DownstreamApiOptions
from identity_web.transport import Drivers

CLAIMS = '{"access_token":{"nbf":{"essential":true,"value":"1700000000"}}}'
CHALLENGE = (
    'Bearer realm="", authorization_uri="https://login/authorize", '
    f'error="insufficient_claims", claims="{base64.b64encode(CLAIMS.encode()).decode()}"'
)


def options(**values: Any) -> DownstreamApiOptions:
    return DownstreamApiOptions.model_validate(
        {"BaseUrl": "https://api.example/", "Scopes": ["api://r/.default"], **values}
    )


@dataclass(frozen=True)
class HeaderNeeded:
    """What `ASK`'s header step yields: the test answers it by hand."""

    options: DownstreamApiOptions


class AskByHand:
    """A header provider whose step yields `HeaderNeeded` and takes the header sent back."""

    def cached_header(self, options: DownstreamApiOptions) -> None:
        """Nothing cached: every call runs the step."""

    def header_step(self, options: DownstreamApiOptions) -> Step[AuthorizationHeaderInformation]:
        header: AuthorizationHeaderInformation = yield HeaderNeeded(options)  # type: ignore[misc]
        return header


ASK = AskByHand()


def call_flow(options: DownstreamApiOptions, body: Any, *, api: str) -> Step[DownstreamResponse]:
    return call_step(options, body, api=api, headers=ASK)


def ok(body: bytes = b"{}", content_type: str = "application/json") -> HttpResponse:
    return HttpResponse(200, {"content-type": content_type}, body)


def test_claims_are_decoded_from_base64_or_taken_as_json() -> None:
    assert decode_claims(base64.b64encode(CLAIMS.encode()).decode()) == CLAIMS
    assert decode_claims(base64.urlsafe_b64encode(CLAIMS.encode()).decode().rstrip("=")) == CLAIMS
    assert decode_claims(CLAIMS) == CLAIMS
    assert decode_claims("not base64 at all!") is None
    assert decode_claims(base64.b64encode(b"[1]").decode()) is None


def test_only_a_401_with_claims_is_a_challenge() -> None:
    assert claims_challenge(HttpResponse(401, {"www-authenticate": CHALLENGE}, b"")) == CLAIMS
    assert claims_challenge(HttpResponse(403, {"www-authenticate": CHALLENGE}, b"")) is None
    plain = HttpResponse(401, {"www-authenticate": 'Bearer error="invalid_token"'}, b"")
    assert claims_challenge(plain) is None


def test_flow_asks_for_a_header_then_sends_once() -> None:
    flow = call_flow(options(), None, api="A")
    step = next(flow)
    assert isinstance(step, HeaderNeeded)
    request = flow.send(AuthorizationHeaderInformation("Bearer t"))
    assert isinstance(request, HttpRequest)
    assert request.headers["Authorization"] == "Bearer t"
    with pytest.raises(StopIteration) as done:
        flow.send(ok(b'{"x": 1}'))
    response: DownstreamResponse = done.value.value
    assert (response.status, response.token_type, response.json()) == (200, "Bearer", {"x": 1})


def test_no_scopes_means_an_anonymous_call_without_a_header_step() -> None:
    flow = call_flow(options(Scopes=[]), None, api="A")
    request = next(flow)
    assert isinstance(request, HttpRequest)
    assert "Authorization" not in request.headers


def test_claims_challenge_reacquires_with_claims_and_retries_exactly_once() -> None:
    flow = call_flow(options(HttpMethod="POST"), None, api="A")
    first = next(flow)
    assert isinstance(first, HeaderNeeded)
    assert first.options.acquire_token_options.claims is None
    flow.send(AuthorizationHeaderInformation("Bearer old"))
    again = flow.send(HttpResponse(401, {"www-authenticate": CHALLENGE}, b""))
    assert isinstance(again, HeaderNeeded)
    assert again.options.acquire_token_options.claims == CLAIMS
    retry = flow.send(AuthorizationHeaderInformation("Bearer new"))
    assert isinstance(retry, HttpRequest)
    assert retry.headers["Authorization"] == "Bearer new"
    with pytest.raises(StopIteration) as done:
        flow.send(HttpResponse(401, {"www-authenticate": CHALLENGE}, b""))
    assert done.value.value.status == 401


def test_anonymous_401_with_claims_is_not_retried() -> None:
    flow = call_flow(options(Scopes=[]), None, api="A")
    next(flow)
    with pytest.raises(StopIteration) as done:
        flow.send(HttpResponse(401, {"www-authenticate": CHALLENGE}, b""))
    assert done.value.value.status == 401


def test_mtls_pop_over_http_is_refused_before_any_token_is_acquired() -> None:
    flow = call_flow(
        options(BaseUrl="http://api.example/", ProtocolScheme="MTLS_POP"), None, api="A"
    )
    with pytest.raises(InvalidRequestError, match="plain HTTP"):
        next(flow)


class Recorder:
    """Answers header steps and requests from scripted responses (sync and async alike)."""

    def __init__(self, *responses: HttpResponse) -> None:
        self.responses = list(responses)
        self.requests: list[HttpRequest] = []
        self.header_options: list[DownstreamApiOptions] = []
        self.drivers = Drivers(self.send)

    def cached_header(self, options: DownstreamApiOptions) -> None:
        """Nothing cached: every call runs the step."""

    def header_step(self, options: DownstreamApiOptions) -> Step[AuthorizationHeaderInformation]:
        self.header_options.append(options)
        return AuthorizationHeaderInformation(f"Bearer t{len(self.header_options)}")
        yield  # a step that needs nothing

    def send(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        return self.responses.pop(0)


def test_sync_and_async_drivers_produce_the_same_requests() -> None:
    sync = Recorder(HttpResponse(401, {"www-authenticate": CHALLENGE}, b""), ok())
    sync.drivers.run(call_step(options(), None, api="A", headers=sync))
    asynchronous = Recorder(HttpResponse(401, {"www-authenticate": CHALLENGE}, b""), ok())
    step = call_step(options(), None, api="A", headers=asynchronous)
    asyncio.run(asynchronous.drivers.run_async(step))
    assert [r.headers for r in sync.requests] == [r.headers for r in asynchronous.requests]
    assert [r.headers["Authorization"] for r in sync.requests] == ["Bearer t1", "Bearer t2"]


def api_with(*responses: HttpResponse, **values: Any) -> tuple[DownstreamApi, Recorder]:
    recorder = Recorder(*responses)
    return DownstreamApi({"MyApi": options(**values)}, recorder, recorder.drivers), recorder


def test_call_returns_non_2xx_without_raising() -> None:
    api, _ = api_with(HttpResponse(500, {}, b"boom"))
    assert api.call("myapi").status == 500


def test_typed_helpers_parse_json_text_and_empty_bodies() -> None:
    api, recorder = api_with(
        ok(b'{"a": 1}'),
        ok(b"plain", "text/plain; charset=utf-8"),
        HttpResponse(204, {}, b""),
        ok(b"\x00\x01", "application/octet-stream"),
    )
    assert api.get("MyApi") == {"a": 1}
    assert api.post("MyApi", json={"b": 2}) == "plain"
    assert api.delete("MyApi") is None
    assert api.put("MyApi", content=b"raw") == b"\x00\x01"
    assert [r.method for r in recorder.requests] == ["GET", "POST", "DELETE", "PUT"]
    assert json.loads(recorder.requests[1].content or b"") == {"b": 2}
    assert all(o.request_app_token for o in recorder.header_options)


async def test_typed_async_helpers_share_the_same_code() -> None:
    api, recorder = api_with(ok(b'{"a": 1}'), ok(b"[]"))
    assert await api.get_async("MyApi") == {"a": 1}
    assert await api.patch_async("MyApi", json=[]) == []
    assert [r.method for r in recorder.requests] == ["GET", "PATCH"]


def test_error_helper_raises_with_status_headers_and_a_bounded_body() -> None:
    body = ("x" * 5000).encode()
    api, _ = api_with(HttpResponse(400, {"x-ms-request-id": "rid", "set-cookie": "s=1"}, body))
    with pytest.raises(DownstreamApiError) as raised:
        api.get("MyApi")
    error = raised.value
    assert error.status == 400
    assert error.headers["x-ms-request-id"] == "rid"
    assert error.headers["set-cookie"] == "[redacted]"
    assert error.body.endswith("... (truncated)")
    assert len(error.body) == 4096 + len("... (truncated)")


def test_unknown_api_name_lists_the_registered_ones() -> None:
    api, _ = api_with()
    with pytest.raises(
        ConfigurationError, match=r"'Other' is not registered \(registered: MyApi\)"
    ):
        api.call("Other")


def test_a_bearer_token_over_http_is_refused_before_any_token_is_acquired() -> None:
    flow = call_flow(options(BaseUrl="http://api.example/"), None, api="A")
    with pytest.raises(InvalidRequestError, match=r"Bearer token .* never sent over plain HTTP"):
        next(flow)


def test_an_anonymous_call_may_use_http() -> None:
    flow = call_flow(options(BaseUrl="http://api.example/", Scopes=[]), None, api="A")
    request = next(flow)
    assert isinstance(request, HttpRequest)
    assert request.url == "http://api.example/"
