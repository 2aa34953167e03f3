"""Request building for DownstreamApi: URL, headers, body, binding rules (pure functions)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from identity_web import AuthorizationHeaderInformation, ConfigurationError, InvalidRequestError
from identity_web.downstream._request import (
    RequestBody,
    api_url,
    build_request,
    call_target,
    encode_body,
    is_reserved_header,
    merge_extra_headers,
    request_for,
)
from identity_web.protocol import BindingCertificate, TokenType
from identity_web.settings import DownstreamApiOptions


def make_binding() -> BindingCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "downstream-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return BindingCertificate.create(cert, key)


def options(**values: Any) -> DownstreamApiOptions:
    return DownstreamApiOptions.model_validate({"BaseUrl": "https://api.example/", **values})


BEARER = AuthorizationHeaderInformation(header_value="Bearer tok")


@pytest.mark.parametrize(
    ("base", "relative", "expected"),
    [
        ("https://api.example/", "items", "https://api.example/items"),
        ("https://api.example", "/items", "https://api.example/items"),
        ("https://api.example///", "//items/1", "https://api.example/items/1"),
        ("https://api.example/v1/", "", "https://api.example/v1/"),
        ("https://api.example/v1", None, "https://api.example/v1"),
    ],
)
def test_url_joins_base_and_relative_path_with_one_slash(
    base: str, relative: str | None, expected: str
) -> None:
    assert api_url(base, relative, None, api="A") == expected


def test_query_parameters_are_escaped_and_appended_with_question_mark_or_ampersand() -> None:
    query = {"a b": "c&d", "x": "é/?"}
    assert api_url("https://h/", "p", query, api="A") == "https://h/p?a%20b=c%26d&x=%C3%A9%2F%3F"
    assert api_url("https://h/", "p?v=1", {"k": "v"}, api="A") == "https://h/p?v=1&k=v"
    assert api_url("https://h/", "p?", {"k": "v"}, api="A") == "https://h/p?k=v"


def test_missing_base_url_names_the_key() -> None:
    with pytest.raises(ConfigurationError, match=r"MyApi\.BaseUrl"):
        api_url(None, "x", None, api="MyApi")


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "authorization",
        "COOKIE",
        "Host",
        "X-Original-URL",
        "x-ms-client-principal",
        "X-MS-CLIENT-PRINCIPAL-ID",
        "X-MS-CLIENT-PRINCIPAL-NAME",
        "X-MS-CLIENT-PRINCIPAL-IDP",
        "X-Forwarded-For",
        "x-forwarded-host",
        "X-MS-TOKEN-AAD-ACCESS-TOKEN",
    ],
)
def test_reserved_headers_are_recognised_case_insensitively(name: str) -> None:
    assert is_reserved_header(name)


@pytest.mark.parametrize(
    "name", ["x-ms-tokenboundauth", "X-Custom", "X-Forwarded", "Accept-Language"]
)
def test_ordinary_headers_are_not_reserved(name: str) -> None:
    assert not is_reserved_header(name)


def test_reserved_and_duplicate_extra_headers_are_dropped_and_logged_without_values(
    caplog: pytest.LogCaptureFixture,
) -> None:
    extra = {
        "Authorization": "Bearer stolen-value",
        "X-Forwarded-For": "10.0.0.1",
        "accept": "text/plain",
        "X-Custom": "one",
        "x-custom": "two",
        "x-ms-tokenboundauth": "true",
    }
    with caplog.at_level(logging.WARNING):
        merged = merge_extra_headers({"Accept": "application/json"}, extra, api="MyApi")
    assert merged == {
        "Accept": "application/json",
        "X-Custom": "one",
        "x-ms-tokenboundauth": "true",
    }
    assert "stolen-value" not in caplog.text
    assert "10.0.0.1" not in caplog.text
    assert "'Authorization'" in caplog.text
    assert "'x-custom'" in caplog.text


def test_json_body_is_utf8_json_with_the_configured_content_type() -> None:
    body = encode_body(content=None, json_value={"a": "é"}, content_type="application/json")
    assert body is not None
    assert body.data == b'{"a": "\\u00e9"}'
    assert body.content_type == "application/json"


def test_text_content_is_sent_as_is() -> None:
    body = encode_body(content="hello", json_value=None, content_type="text/plain")
    assert body is not None
    assert (body.data, body.content_type) == (b"hello", "text/plain")
    assert encode_body(content=None, json_value=None, content_type=None) is None


def test_content_and_json_together_are_refused() -> None:
    with pytest.raises(InvalidRequestError):
        encode_body(content=b"x", json_value={}, content_type=None)


def test_request_carries_method_accept_auth_and_extra_headers() -> None:
    configured = options(
        RelativePath="items",
        HttpMethod="post",
        AcceptHeader="application/xml",
        ExtraHeaderParameters={"X-Custom": "1", "Host": "evil"},
        ExtraQueryParameters={"api-version": "7.4"},
    )
    body = encode_body(content=None, json_value=[1], content_type=configured.content_type)
    request = build_request(configured, BEARER, body, api="A")
    assert request.method == "POST"
    assert request.url == "https://api.example/items?api-version=7.4"
    assert request.headers == {
        "Accept": "application/xml",
        "Content-Type": "application/json",
        "Authorization": "Bearer tok",
        "X-Custom": "1",
    }
    assert request.content == b"[1]"
    assert request.tls_identity is None
    assert request.retry is None


def test_anonymous_request_has_no_authorization_header() -> None:
    request = build_request(options(), None, None, api="A")
    assert "Authorization" not in request.headers
    assert request.method == "GET"


def test_bound_token_travels_with_its_certificate() -> None:
    binding = make_binding()
    header = AuthorizationHeaderInformation("mtls_pop tok", binding, token_type=TokenType.MTLS_POP)
    request = build_request(options(ProtocolScheme="MTLS_POP"), header, None, api="A")
    assert request.tls_identity is binding
    assert request.headers["Authorization"] == "mtls_pop tok"


def test_bound_token_is_refused_over_plain_http() -> None:
    header = AuthorizationHeaderInformation(
        "mtls_pop tok", make_binding(), token_type=TokenType.MTLS_POP
    )
    plain = DownstreamApiOptions.model_validate({"BaseUrl": "http://api.example/"})
    with pytest.raises(InvalidRequestError, match="never sent over plain HTTP"):
        build_request(plain, header, None, api="A")


def test_mtls_pop_header_without_certificate_is_refused() -> None:
    header = AuthorizationHeaderInformation("mtls_pop tok", token_type=TokenType.MTLS_POP)
    with pytest.raises(InvalidRequestError, match="without its binding certificate"):
        build_request(options(), header, None, api="A")


def test_request_repr_and_errors_never_show_the_token() -> None:
    secret = AuthorizationHeaderInformation("Bearer sekrit-token")
    request = build_request(options(), secret, None, api="A")
    assert "sekrit-token" not in repr(request)
    assert "sekrit-token" not in repr(secret)


def test_a_warm_call_sends_the_request_it_built_for_the_same_header_object() -> None:
    """One cached token hands out one header object: its bodiless request is built once."""
    configured = options(ProtocolScheme="MTLS_POP")
    target = call_target(configured, api="A")
    header = AuthorizationHeaderInformation(
        "mtls_pop tok", make_binding(), token_type=TokenType.MTLS_POP
    )
    first = request_for(target, header, None, configured, api="A")
    assert request_for(target, header, None, configured, api="A") is first
    body = RequestBody(b"{}", "application/json")
    assert request_for(target, header, body, configured, api="A").content == b"{}"
    renewed = AuthorizationHeaderInformation(
        "mtls_pop new", header.binding_certificate, token_type=TokenType.MTLS_POP
    )
    second = request_for(target, renewed, None, configured, api="A")
    assert second is not first
    assert second.headers["Authorization"] == "mtls_pop new"
    assert request_for(target, None, None, configured, api="A").headers.get("Authorization") is None


def test_a_remembered_request_never_lets_a_bound_token_through_without_its_certificate() -> None:
    configured = options(ProtocolScheme="MTLS_POP")
    target = call_target(configured, api="A")
    bound = AuthorizationHeaderInformation(
        "mtls_pop tok", make_binding(), token_type=TokenType.MTLS_POP
    )
    request_for(target, bound, None, configured, api="A")
    stripped = AuthorizationHeaderInformation("mtls_pop tok", token_type=TokenType.MTLS_POP)
    with pytest.raises(InvalidRequestError, match="without its binding certificate"):
        request_for(target, stripped, None, configured, api="A")
