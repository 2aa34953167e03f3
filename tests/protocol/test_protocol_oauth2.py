"""Client-credentials request building and token/error response parsing (no I/O)."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest

from identity_web import ServiceError, TokenAcquisitionError, TokenTypeMismatchError
from identity_web.protocol import BindingCertificate, HttpResponse
from identity_web.protocol.oauth2 import (
    ClientCredentialsRequest,
    build_token_request,
    client_credentials_flow,
    merge_claims,
    parse_error_response,
    parse_token_response,
)
from identity_web.protocol.retry import sts_policy
from identity_web.protocol.rfc7523 import JWT_BEARER
from identity_web.protocol.rfc8705 import mtls_pop_request

ENDPOINT = "https://login.microsoftonline.com/contoso/oauth2/v2.0/token"
MTLS_ENDPOINT = "https://mtlsauth.microsoft.com/contoso/oauth2/v2.0/token"
NOW = 1_700_000_000.0


def _json(status: int, payload: object, **headers: str) -> HttpResponse:
    return HttpResponse(status, headers, json.dumps(payload).encode())


def test_secret_request_has_exactly_the_client_credentials_fields() -> None:
    request = ClientCredentialsRequest(
        token_endpoint=ENDPOINT,
        client_id="app-id",
        scope="api://res/.default",
        client_secret="s3cret",
        correlation_id="corr-1",
    )
    http = build_token_request(request)
    assert http.method == "POST"
    assert http.url == ENDPOINT
    assert dict(http.form or {}) == {
        "client_id": "app-id",
        "grant_type": "client_credentials",
        "scope": "api://res/.default",
        "client_secret": "s3cret",
    }
    assert http.tls_identity is None
    assert http.headers["client-request-id"] == "corr-1"
    assert http.headers["return-client-request-id"] == "true"
    assert http.headers["x-ms-lib-capability"] == "retry-after, h429"
    assert http.headers["Content-Type"] == "application/x-www-form-urlencoded"
    for name in ("x-client-SKU", "x-client-Ver", "x-client-OS"):
        assert http.headers[name]
    assert "s3cret" not in repr(request)
    assert "s3cret" not in repr(http)


def test_assertion_request_sends_assertion_and_its_type_but_no_secret() -> None:
    request = ClientCredentialsRequest(
        token_endpoint=ENDPOINT,
        client_id="app-id",
        scope="api://res/.default",
        client_assertion="eyJhbGciOi.x.y",
        client_assertion_type=JWT_BEARER,
    )
    form = dict(build_token_request(request).form or {})
    assert form["client_assertion_type"] == JWT_BEARER
    assert form["client_assertion"] == "eyJhbGciOi.x.y"
    assert "client_secret" not in form
    assert "token_type" not in form
    assert "eyJhbGciOi" not in repr(request)


def test_mtls_pop_request_has_token_type_and_no_client_assertion(
    certificate: BindingCertificate,
) -> None:
    base = ClientCredentialsRequest(
        token_endpoint=MTLS_ENDPOINT,
        client_id="app-id",
        scope="https://graph.microsoft.com/.default",
    )
    request = mtls_pop_request(base, certificate)
    http = build_token_request(request)
    assert dict(http.form or {}) == {
        "client_id": "app-id",
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
        "token_type": "mtls_pop",
    }
    assert http.tls_identity is certificate


def test_bound_request_without_certificate_is_refused() -> None:
    request = ClientCredentialsRequest(
        token_endpoint=MTLS_ENDPOINT, client_id="a", scope="s/.default", token_type="mtls_pop"
    )
    with pytest.raises(TokenAcquisitionError, match="binding certificate"):
        build_token_request(request)


def test_certificate_is_never_presented_over_plain_http(certificate: BindingCertificate) -> None:
    base = ClientCredentialsRequest(
        token_endpoint="http://mtlsauth.microsoft.com/t/oauth2/v2.0/token",
        client_id="a",
        scope="s/.default",
    )
    request = mtls_pop_request(base, certificate)
    with pytest.raises(TokenAcquisitionError, match="non-HTTPS"):
        build_token_request(request)


def test_extra_query_parameters_are_appended_to_the_url() -> None:
    request = ClientCredentialsRequest(
        token_endpoint=ENDPOINT,
        client_id="a",
        scope="s/.default",
        client_secret="x",
        extra_query_parameters=(("dc", "ESTSR-PUB-WUS3-AZ1-TEST1"), ("slice", "Test Slice")),
    )
    url = build_token_request(request).url
    assert url.startswith(ENDPOINT + "?")
    assert parse_qsl(urlsplit(url).query) == [
        ("dc", "ESTSR-PUB-WUS3-AZ1-TEST1"),
        ("slice", "Test Slice"),
    ]


def test_claims_are_merged_with_client_capabilities() -> None:
    merged = merge_claims('{"access_token":{"nbf":{"essential":true,"value":"1"}}}', ("CP1",))
    assert json.loads(merged or "") == {
        "access_token": {"nbf": {"essential": True, "value": "1"}, "xms_cc": {"values": ["CP1"]}}
    }
    assert json.loads(merge_claims(None, ("CP1", "CP2")) or "") == {
        "access_token": {"xms_cc": {"values": ["CP1", "CP2"]}}
    }
    assert merge_claims(None, ()) is None
    with pytest.raises(TokenAcquisitionError, match="not valid JSON"):
        merge_claims("{nope", ())


def test_claims_and_capabilities_reach_the_form() -> None:
    request = ClientCredentialsRequest(
        token_endpoint=ENDPOINT,
        client_id="a",
        scope="s/.default",
        client_secret="x",
        client_capabilities=("CP1",),
    )
    form = dict(build_token_request(request).form or {})
    assert json.loads(form["claims"]) == {"access_token": {"xms_cc": {"values": ["CP1"]}}}


@pytest.mark.parametrize(
    ("expires_in", "refresh_in"), [(3599, 1800), ("3599", "1800"), (3599.0, None)]
)
def test_token_response_accepts_numbers_and_numeric_strings(
    expires_in: object, refresh_in: object
) -> None:
    payload = {"token_type": "Bearer", "access_token": "at", "expires_in": expires_in}
    if refresh_in is not None:
        payload["refresh_in"] = refresh_in
    payload["ext_expires_in"] = "3599"
    payload["additional_param1"] = "ignored"
    token = parse_token_response(_json(200, payload), now=NOW, token_endpoint=ENDPOINT)
    assert token.expires_on == NOW + 3599
    assert token.refresh_on == (NOW + 1800 if refresh_in is not None else None)
    assert token.token_type == "Bearer"
    assert token.binding_certificate is None
    assert token.token_endpoint == ENDPOINT


def test_bearer_token_type_is_case_insensitive_and_defaults_when_missing() -> None:
    for token_type in ("bearer", "BEARER", None):
        payload = {"access_token": "at", "expires_in": 10, "token_type": token_type}
        assert parse_token_response(_json(200, payload), now=NOW).token_type == "Bearer"


def test_bound_response_carries_the_certificate_it_was_requested_with(
    certificate: BindingCertificate,
) -> None:
    payload = {"token_type": "MTLS_POP", "access_token": "at", "expires_in": 3599}
    token = parse_token_response(
        _json(200, payload), now=NOW, requested_token_type="mtls_pop", binding=certificate
    )
    assert token.token_type == "mtls_pop"
    assert token.binding_certificate is certificate


@pytest.mark.parametrize("returned", ["Bearer", "pop", None])
def test_asked_for_mtls_pop_and_got_something_else_fails_closed(returned: str | None) -> None:
    payload = {"token_type": returned, "access_token": "at", "expires_in": 3599}
    with pytest.raises(TokenTypeMismatchError) as caught:
        parse_token_response(_json(200, payload), now=NOW, requested_token_type="mtls_pop")
    assert caught.value.expected == "mtls_pop"
    assert caught.value.actual == returned
    assert "at" not in str(caught.value).split()


def test_asked_for_bearer_and_got_a_bound_token_fails_closed() -> None:
    payload = {"token_type": "mtls_pop", "access_token": "at", "expires_in": 3599}
    with pytest.raises(TokenTypeMismatchError):
        parse_token_response(_json(200, payload), now=NOW)


@pytest.mark.parametrize(
    "payload",
    [
        {"token_type": "Bearer", "expires_in": 3599},
        {"token_type": "Bearer", "access_token": "at"},
        {"token_type": "Bearer", "access_token": "at", "expires_in": "soon"},
        {"token_type": "Bearer", "access_token": "at", "expires_in": -5},
    ],
)
def test_incomplete_token_responses_are_errors(payload: dict[str, object]) -> None:
    with pytest.raises(TokenAcquisitionError):
        parse_token_response(_json(200, payload), now=NOW)


def test_error_response_is_parsed_into_a_service_error() -> None:
    body = {
        "error": "invalid_client",
        "error_description": "AADSTS7000218: The request body must contain ... Trace ID: t",
        "error_codes": [7000218],
        "timestamp": "2019-07-12 19:24:42Z",
        "trace_id": "21c3e4db-d2fd-44f7-a3e0-5939f84e6000",
        "correlation_id": "3d483b09-1198-4acb-929f-c648674e32bd",
        "suberror": "bad_token",
        "claims": '{"access_token":{}}',
    }
    with pytest.raises(ServiceError) as caught:
        parse_token_response(_json(400, body), now=NOW, token_endpoint=ENDPOINT)
    error = caught.value
    assert error.status == 400
    assert error.error == "invalid_client"
    assert error.error_codes == (7000218,)
    assert error.trace_id == "21c3e4db-d2fd-44f7-a3e0-5939f84e6000"
    assert error.correlation_id == "3d483b09-1198-4acb-929f-c648674e32bd"
    assert error.suberror == "bad_token"
    assert error.claims == '{"access_token":{}}'
    assert error.endpoint == ENDPOINT
    assert error.has_code(7000218)


def test_error_codes_fall_back_to_the_description() -> None:
    body = {"error": "invalid_client", "error_description": "AADSTS700027: Client assertion..."}
    error = parse_error_response(_json(401, body, **{"client-request-id": "c1"}))
    assert error.error_codes == (700027,)
    assert error.correlation_id == "c1"


def test_non_json_error_body_gets_a_clear_message() -> None:
    response = HttpResponse(502, {"content-type": "text/html"}, b"<html>Bad gateway</html>")
    error = parse_error_response(response, endpoint=ENDPOINT)
    assert error.status == 502
    assert error.error == "http_error"
    assert "not send an OAuth error body" in str(error)
    assert "text/html" in str(error)


def test_flow_yields_one_request_and_returns_the_parsed_token(
    certificate: BindingCertificate,
) -> None:
    base = ClientCredentialsRequest(
        token_endpoint=MTLS_ENDPOINT, client_id="a", scope="s/.default", correlation_id="corr-9"
    )
    request = mtls_pop_request(base, certificate)
    flow = client_credentials_flow(request, now=NOW)
    http = next(flow)
    assert http.tls_identity is certificate
    assert http.retry is not None
    payload = {"token_type": "mtls_pop", "access_token": "at", "expires_in": 3599}
    with pytest.raises(StopIteration) as done:
        flow.send(_json(200, payload))
    token = done.value.value
    assert token.binding_certificate is certificate
    assert token.correlation_id == "corr-9"
    assert token.token_endpoint == MTLS_ENDPOINT


def test_sts_retry_policy_retries_a_5xx_once_without_retry_after() -> None:
    policy = sts_policy(scale=0.001)
    assert policy.next_delay(1, HttpResponse(503, {}, b""), 0.0) == pytest.approx(0.001)
    assert policy.next_delay(2, HttpResponse(503, {}, b""), 0.0) is None
    assert policy.next_delay(1, HttpResponse(503, {"retry-after": "5"}, b""), 0.0) is None
    assert policy.next_delay(1, HttpResponse(400, {}, b""), 0.0) is None
    assert policy.next_delay(1, None, 0.0) is None
