"""HttpTransport over real TLS on 127.0.0.1: which certificate is presented, and the failures."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from tls_test_server import Canned, TlsTestServer
from transport_pki import Pki

from identity_web import InvalidRequestError, NetworkError
from identity_web.protocol import HttpRequest, x5t_s256
from identity_web.transport import HttpTransport, ssl_context_for


@pytest.fixture
def transport(pki: Pki):
    with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        yield transport


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_client_certificate_only_when_the_request_asks(
    pki: Pki, tls_server: TlsTestServer, transport: HttpTransport
):
    plain = transport.send(HttpRequest("GET", tls_server.url + "/plain"))
    bound = transport.send(
        HttpRequest("GET", tls_server.url + "/bound", tls_identity=pki.binding_a)
    )
    other = transport.send(
        HttpRequest("GET", tls_server.url + "/other", tls_identity=pki.binding_b)
    )
    plain_again = transport.send(HttpRequest("GET", tls_server.url + "/plain"))
    assert plain.json()["client_x5t_s256"] is None
    assert bound.json()["client_x5t_s256"] == x5t_s256(pki.client_a.der)
    assert bound.json()["client_x5t_s256"] == pki.binding_a.x5t_s256
    assert other.json()["client_x5t_s256"] == pki.binding_b.x5t_s256
    assert plain_again.json()["client_x5t_s256"] is None


async def test_async_client_certificate_only_when_the_request_asks(
    pki: Pki, tls_server: TlsTestServer
):
    async with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        plain = await transport.send_async(HttpRequest("GET", tls_server.url + "/"))
        bound = await transport.send_async(
            HttpRequest("GET", tls_server.url + "/", tls_identity=pki.binding_a)
        )
    assert plain.json()["client_x5t_s256"] is None
    assert bound.json()["client_x5t_s256"] == pki.binding_a.x5t_s256


def test_bodies_and_headers_reach_the_server(
    pki: Pki, tls_server: TlsTestServer, transport: HttpTransport
):
    transport.send(HttpRequest("POST", tls_server.url + "/form", form={"a": "1", "b": "x y"}))
    transport.send(HttpRequest("POST", tls_server.url + "/json", json_body={"k": [1, 2]}))
    transport.send(
        HttpRequest("PUT", tls_server.url + "/raw", content=b"\x00\x01", headers={"X-Test": "v"})
    )
    form, body, raw = tls_server.seen
    assert form.body == b"a=1&b=x+y"
    assert form.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert json.loads(body.body) == {"k": [1, 2]}
    assert body.headers["Content-Type"] == "application/json"
    assert raw.body == b"\x00\x01"
    assert raw.headers["X-Test"] == "v"
    assert raw.headers["User-Agent"].startswith("identity-web")


def test_response_headers_are_lower_cased(tls_server: TlsTestServer, transport: HttpTransport):
    tls_server.script(Canned(status=201, headers={"X-Request-Id": "abc"}, body=b"ok"))
    response = transport.send(HttpRequest("GET", tls_server.url + "/"))
    assert response.status == 201
    assert response.header("X-Request-Id") == "abc"
    assert response.headers["x-request-id"] == "abc"
    assert "x-request-id" in list(response.headers)  # names iterate lower-cased
    assert response.body == b"ok"
    assert response.url == tls_server.url + "/"


def test_redirects_are_not_followed(pki: Pki, tls_server: TlsTestServer, transport: HttpTransport):
    tls_server.script(Canned(status=302, headers={"Location": "http://127.0.0.1:1/steal"}))
    response = transport.send(
        HttpRequest(
            "GET",
            tls_server.url + "/",
            headers={"Authorization": "mtls_pop t"},
            tls_identity=pki.binding_a,
        )
    )
    assert response.status == 302
    assert len(tls_server.seen) == 1


def test_bound_request_over_plain_http_is_refused(pki: Pki, transport: HttpTransport):
    request = HttpRequest("GET", f"http://127.0.0.1:{closed_port()}/x", tls_identity=pki.binding_a)
    with pytest.raises(InvalidRequestError, match="only goes over https"):
        transport.send(request)


async def test_bound_request_over_plain_http_is_refused_async(pki: Pki):
    async with HttpTransport() as transport:
        with pytest.raises(InvalidRequestError):
            await transport.send_async(
                HttpRequest("POST", "HTTP://127.0.0.1:1/x", tls_identity=pki.binding_a)
            )


def test_refused_connection_is_a_network_error_naming_the_url(transport: HttpTransport):
    url = f"https://127.0.0.1:{closed_port()}/oauth2/token"
    request = HttpRequest("POST", url + "?sig=SECRETSIG", form={"client_secret": "SECRET-VALUE"})
    with pytest.raises(NetworkError) as caught:
        transport.send(request)
    message = str(caught.value)
    assert url in message
    assert "SECRET" not in message
    assert caught.value.url == url


async def test_refused_connection_async(transport: HttpTransport):
    url = f"https://127.0.0.1:{closed_port()}/"
    with pytest.raises(NetworkError, match=r"127\.0\.0\.1"):
        await transport.send_async(HttpRequest("GET", url))


def test_untrusted_server_fails_verification(tls_server: TlsTestServer):
    with HttpTransport() as transport, pytest.raises(NetworkError, match="not trusted"):
        transport.send(HttpRequest("GET", tls_server.url + "/"))
    assert tls_server.seen == []


def test_timeout_is_a_network_error(tls_server: TlsTestServer, transport: HttpTransport):
    tls_server.script(Canned(delay=1.0))
    with pytest.raises(NetworkError, match=r"timed out after 0\.2 s"):
        transport.send(HttpRequest("GET", tls_server.url + "/slow", timeout=0.2))


def test_post_handshake_client_authentication(pki: Pki, tmp_path: Path, transport: HttpTransport):
    """A TLS 1.3 server may ask for the certificate after the handshake (as some services do)."""
    with TlsTestServer(tmp_path, pki.server, client_ca=pki.ca, post_handshake=True) as server:
        plain = transport.send(HttpRequest("GET", server.url + "/"))
        asked = transport.send(HttpRequest("GET", server.url + "/pha", tls_identity=pki.binding_a))
    assert plain.json()["client_x5t_s256"] is None  # nothing asked during the handshake
    assert asked.json()["client_x5t_s256"] == pki.binding_a.x5t_s256


def test_logs_name_endpoint_status_and_thumbprint_but_no_secrets(
    pki: Pki, tls_server: TlsTestServer, transport: HttpTransport, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG, logger="identity_web")
    transport.send(
        HttpRequest(
            "POST",
            tls_server.url + "/token?code=QUERYSECRET",
            headers={"Authorization": "Bearer TOKENSECRET"},
            form={"client_assertion": "ASSERTIONSECRET"},
            tls_identity=pki.binding_a,
        )
    )
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert f"POST {tls_server.url}/token -> 200" in text
    assert pki.binding_a.x5t_s256 in text
    for secret in ("QUERYSECRET", "TOKENSECRET", "ASSERTIONSECRET", "PRIVATE KEY"):
        assert secret not in text


def test_clients_offer_and_speak_http_1_1_only(
    pki: Pki, tls_server: TlsTestServer, transport: HttpTransport
):
    """A server preferring h2 still gets HTTP/1.1: the contexts offer only `http/1.1` (ALPN)."""
    tls_server.context.set_alpn_protocols(["h2", "http/1.1"])
    for binding in (None, pki.binding_a):
        context = ssl_context_for(binding, ca_bundle=pki.ca_bundle)
        with (
            socket.create_connection(("127.0.0.1", tls_server.port)) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
        ):
            assert tls.selected_alpn_protocol() == "http/1.1"
        response = transport.client_for(binding).get(tls_server.url + "/")
        assert response.http_version == "HTTP/1.1"
