"""ProtectedWebApi and ClientCertificateSource: headers in, the HTTP answer out (tier 1)."""

from __future__ import annotations

import base64
import json
import logging
import ssl
from urllib.parse import quote

import pytest
from resource_helpers import certificate, claims, mint, protected_api

from identity_web.resource import (
    CertificateBindingError,
    ClientCertificateSource,
    InsufficientScopeError,
    ProtectedWebApi,
    SigningKeysUnavailableError,
    TokenValidationError,
)


def _refusal(
    authorization: str | None, thumbprint: str | None = None, **keys: object
) -> tuple[TokenValidationError, int, dict[str, str], dict[str, str]]:
    api = protected_api(**keys)
    with pytest.raises(TokenValidationError) as refused:
        api.authenticate(authorization, thumbprint)
    answer = ProtectedWebApi.error_response(refused.value)
    return refused.value, answer.status, dict(answer.headers), json.loads(answer.body)


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_the_scheme_is_read_case_insensitively(scheme: str) -> None:
    assert protected_api().authenticate(f"{scheme} {mint(claims())}", None).scopes


def test_a_missing_header_is_a_bearer_invalid_token_challenge() -> None:
    _, status, headers, body = _refusal(None)
    assert status == 401
    assert headers["WWW-Authenticate"] == (
        'Bearer error="invalid_token", error_description="No Authorization header was sent"'
    )
    assert body == {
        "error": "invalid_token",
        "error_description": "No Authorization header was sent",
    }


def test_an_unknown_scheme_and_an_empty_token_are_refused() -> None:
    assert "Unsupported" in _refusal("Basic dXNlcjpwdw==")[0].description
    assert "no token" in _refusal("Bearer   ")[0].description


def test_a_refused_bound_token_gets_the_mtls_pop_challenge() -> None:
    _, thumbprint = certificate()
    token = mint(claims(cnf={"x5t#S256": thumbprint}))
    error, status, headers, _ = _refusal(f"mtls_pop {token}", None)
    assert isinstance(error, CertificateBindingError)
    assert status == 401
    assert headers["WWW-Authenticate"].startswith('mtls_pop error="invalid_token"')


def test_with_require_bound_tokens_every_challenge_names_mtls_pop() -> None:
    for authorization in (None, f"Bearer {mint(claims())}"):
        _, _, headers, _ = _refusal(authorization, RequireBoundTokens=True)
        assert headers["WWW-Authenticate"].startswith('mtls_pop error="invalid_token"')
    assert "RequireBoundTokens" in headers["WWW-Authenticate"]


def test_a_missing_scope_is_403_insufficient_scope() -> None:
    api = protected_api()
    token = api.authenticate(f"Bearer {mint(claims())}", None)
    with pytest.raises(InsufficientScopeError) as refused:
        api.authorize(token, scopes=["Items.Write"])
    answer = ProtectedWebApi.error_response(refused.value)
    assert answer.status == 403
    assert answer.headers["WWW-Authenticate"].startswith('Bearer error="insufficient_scope"')


def test_no_signing_keys_is_503_with_retry_after() -> None:
    answer = ProtectedWebApi.error_response(SigningKeysUnavailableError("no keys"))
    assert answer.status == 503
    assert answer.headers["Retry-After"] == "30"
    assert "WWW-Authenticate" not in answer.headers


def test_quotes_in_a_description_are_escaped_in_the_challenge() -> None:
    error = TokenValidationError('say "hi" \\ bye')
    challenge = ProtectedWebApi.error_response(error).headers["WWW-Authenticate"]
    assert challenge.endswith('error_description="say \\"hi\\" \\\\ bye"')


def test_refusals_are_logged_without_the_token(caplog: pytest.LogCaptureFixture) -> None:
    token = mint(claims(aud="api://someone-else"))
    caplog.set_level(logging.DEBUG, logger="identity_web")
    _, status, _, body = _refusal(f"Bearer {token}")
    assert status == 401
    assert "TokenAudienceError" in caplog.text
    for text in (caplog.text, json.dumps(body)):
        assert token not in text
        assert token.split(".")[1] not in text


# -- where the client certificate comes from ---------------------------------------------------


def _pem(der: bytes) -> str:
    return ssl.DER_cert_to_PEM_cert(der)


def test_tls_layer_certificates_are_read_from_asgi_and_wsgi() -> None:
    der, thumbprint = certificate()
    source = ClientCertificateSource()
    scope = {"extensions": {"tls": {"client_cert_chain": [_pem(der)]}}, "headers": []}
    assert source.from_asgi(scope) == thumbprint
    other, _ = certificate("issuer")
    chain = _pem(der) + _pem(other)  # the newer form of the extension: one PEM string, leaf first
    assert source.from_asgi({"extensions": {"tls": {"client_cert_chain": chain}}}) == thumbprint
    assert source.from_wsgi({"SSL_CLIENT_CERT": _pem(der)}) == thumbprint
    assert source.from_asgi({"headers": []}) is None
    assert source.from_wsgi({"SSL_CLIENT_CERT": ""}) is None


def test_proxy_headers_are_ignored_unless_configured_as_trusted() -> None:
    der, _ = certificate()
    escaped = quote(_pem(der))
    source = ClientCertificateSource()
    assert source.from_asgi({"headers": [(b"x-ssl-client-cert", escaped.encode())]}) is None
    assert source.from_wsgi({"HTTP_X_ARR_CLIENTCERT": base64.b64encode(der).decode()}) is None


def test_a_trusted_header_is_the_only_source() -> None:
    der, thumbprint = certificate()
    other, _ = certificate("proxy")
    source = ClientCertificateSource("X-SSL-Client-Cert")
    scope = {
        "headers": [(b"x-ssl-client-cert", quote(_pem(der)).encode())],
        "extensions": {"tls": {"client_cert_chain": [_pem(other)]}},
    }
    assert source.from_asgi(scope) == thumbprint
    assert source.from_asgi({**scope, "headers": []}) is None
    environ = {"HTTP_X_SSL_CLIENT_CERT": quote(_pem(der)), "SSL_CLIENT_CERT": _pem(other)}
    assert source.from_wsgi(environ) == thumbprint


def test_each_proxy_format_is_read() -> None:
    der, thumbprint = certificate()
    arr = ClientCertificateSource("X-ARR-ClientCert")
    assert arr.from_header_value(base64.b64encode(der).decode()) == thumbprint
    xfcc = ClientCertificateSource("X-Forwarded-Client-Cert")
    by_cert = f'By=spiffe://api;Hash=00;Cert="{quote(_pem(der))}";Subject="CN=caller"'
    assert xfcc.from_header_value(by_cert) == thumbprint
    digest = base64.urlsafe_b64decode(thumbprint + "=").hex()
    assert xfcc.from_header_value(f"By=spiffe://api;Hash={digest},By=x;Hash=00") == thumbprint
    nginx = ClientCertificateSource("X-SSL-Client-Cert")
    assert nginx.from_header_value(quote(_pem(der))) == thumbprint


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("X-ARR-ClientCert", "not base64!"),
        ("X-ARR-ClientCert", base64.b64encode(b"not a certificate").decode()),
        ("X-Forwarded-Client-Cert", "By=x;Hash=zz"),
        ("X-Forwarded-Client-Cert", 'Cert="garbage"'),
        ("X-SSL-Client-Cert", "-----BEGIN CERTIFICATE-----%0Anope%0A-----END CERTIFICATE-----"),
        ("X-SSL-Client-Cert", "x" * 20_000),
    ],
)
def test_an_unreadable_header_counts_as_no_certificate(header: str, value: str) -> None:
    assert ClientCertificateSource(header).from_header_value(value) is None
