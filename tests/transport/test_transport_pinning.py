"""Service Fabric style server pinning by SHA-1, with verification kept on."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from certgen import Issued, make_self_signed
from tls_test_server import TlsTestServer
from transport_pki import Pki

from identity_web import InvalidRequestError, NetworkError
from identity_web.protocol import HttpRequest
from identity_web.transport import HttpTransport, normalize_thumbprint


def sha1_pin(issued: Issued) -> str:
    """As Service Fabric hands it out: upper-case hex (here with colons, which people paste)."""
    digest = hashlib.sha1(issued.der, usedforsecurity=False).hexdigest().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


@pytest.fixture
def pinned_server(tmp_path: Path, pki: Pki):
    certificate = make_self_signed("service fabric endpoint")
    with TlsTestServer(tmp_path, certificate, client_ca=pki.ca) as server:
        yield server, certificate


def test_normalize_thumbprint():
    assert normalize_thumbprint("AB:cd ef-01") == "abcdef01"


def test_pinned_server_is_reached_though_no_ca_trusts_it(pinned_server, pki: Pki):
    server, certificate = pinned_server
    with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        with pytest.raises(NetworkError, match="not trusted"):
            transport.send(HttpRequest("GET", server.url + "/"))
        request = HttpRequest("GET", server.url + "/msi", pinned_server_sha1=sha1_pin(certificate))
        assert transport.send(request).status == 200
        assert transport.send(request).status == 200
    assert [seen.path for seen in server.seen] == ["/msi", "/msi"]


async def test_pinned_server_async(pinned_server):
    server, certificate = pinned_server
    pin = sha1_pin(certificate).replace(":", "").lower()
    async with HttpTransport() as transport:
        response = await transport.send_async(
            HttpRequest("GET", server.url + "/msi", pinned_server_sha1=pin)
        )
    assert response.status == 200


def test_pin_mismatch_names_both_thumbprints_and_sends_nothing(pinned_server):
    server, certificate = pinned_server
    wrong = sha1_pin(make_self_signed("someone else"))
    with HttpTransport() as transport, pytest.raises(NetworkError) as caught:
        transport.send(HttpRequest("GET", server.url + "/msi", pinned_server_sha1=wrong))
    message = str(caught.value)
    assert wrong.replace(":", "") in message
    assert sha1_pin(certificate).replace(":", "") in message
    assert server.seen == []


def test_a_swapped_certificate_fails_verification(pinned_server):
    server, certificate = pinned_server
    server.close_connections = True  # every request makes a new handshake
    request = HttpRequest("GET", server.url + "/msi", pinned_server_sha1=sha1_pin(certificate))
    with HttpTransport() as transport:
        assert transport.send(request).status == 200
        server.use_certificate(make_self_signed("impostor"))
        with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
            transport.send(request)
    assert len(server.seen) == 1


def test_pinning_with_a_client_certificate(pinned_server, pki: Pki):
    server, certificate = pinned_server
    request = HttpRequest(
        "GET",
        server.url + "/",
        pinned_server_sha1=sha1_pin(certificate),
        tls_identity=pki.binding_a,
    )
    with HttpTransport() as transport:
        assert transport.send(request).json()["client_x5t_s256"] == pki.binding_a.x5t_s256


def test_pinning_needs_https():
    with HttpTransport() as transport, pytest.raises(InvalidRequestError, match="https"):
        transport.send(HttpRequest("GET", "http://127.0.0.1:1/", pinned_server_sha1="ab"))
