"""Errors on an mTLS token request say what to check: AADSTS51000 (the app is not enabled for
mTLS client authentication), AADSTS392196 (the resource does not take bound tokens),
invalid_client (the certificate presented on TLS was not accepted), and no client certificate at
all on the mTLS host (a TLS-terminating middlebox in between): the last against the production
names, with a real TLS-terminating relay in front of the emulator's mTLS host."""

from __future__ import annotations

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from e2e_helpers import build, certificate_config

from identity_web import ServiceError, TokenAcquirerFactory
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.emulator._pki import loopback_san, name, new_rsa_key
from identity_web.protocol import HttpRequest
from identity_web.settings import IdentityWebSettings
from identity_web.transport import CONNECT_TO_VARIABLE, ConnectTo, HttpTransport

PUBLIC = "https://login.microsoftonline.com/"
MTLS_HOST = "mtlsauth.microsoft.com"
NO_CERTIFICATE_HINT = "received no TLS client certificate although this client presented one"


@pytest.fixture
def app_not_enrolled(emulator: Emulator) -> Iterator[Emulator]:
    app = emulator.state.find_app(emulator.manifest.apps[0].client_id)
    assert app is not None
    app.mtls_client_auth_enabled = False
    try:
        yield emulator
    finally:
        app.mtls_client_auth_enabled = True


def bound_call(emulator: Emulator, scope: str | None = None) -> None:
    manifest = emulator.manifest
    with build(certificate_config(manifest, ProtocolScheme="MTLS_POP"), manifest) as services:
        services.token_acquirer.acquire_token_for_app(scope or manifest.resource.scope, bound=True)


def test_aadsts51000_says_to_enable_mtls_client_auth(app_not_enrolled: Emulator) -> None:
    with pytest.raises(ServiceError, match="not enabled for mTLS client authentication") as error:
        bound_call(app_not_enrolled)
    assert error.value.has_code(51000)


def test_aadsts392196_says_the_resource_takes_no_bound_tokens(emulator: Emulator) -> None:
    with pytest.raises(ServiceError, match="does not accept certificate-bound tokens") as error:
        bound_call(emulator, "https://management.azure.com/.default")
    assert error.value.has_code(392196)


def test_invalid_client_on_mtls_says_to_check_the_certificate(emulator: Emulator) -> None:
    body = {"error": "invalid_client", "error_description": "AADSTS7000218: no credential"}
    emulator.inject_faults("entra.mtls_token", [{"status": 401, "body": json.dumps(body)}])
    with pytest.raises(ServiceError, match="certificate presented on TLS is registered"):
        bound_call(emulator)


# -- no client certificate on the mTLS host ------------------------------------------------------


class _Relay(BaseHTTPRequestHandler):
    """Ends the client's TLS (asking for no client certificate) and sends the request on to the
    emulator's mTLS listener over a TLS connection of its own: what a TLS-terminating proxy,
    load balancer or inspecting firewall does."""

    server: _TerminatingProxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kept = {k: v for k, v in self.headers.items() if k.lower() in ("host", "content-type")}
        with httpx.Client(verify=ssl.create_default_context(cafile=self.server.ca_bundle)) as http:
            answer = http.post(
                f"{self.server.upstream}{self.path.lstrip('/')}", content=body, headers=kept
            )
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _TerminatingProxy(ThreadingHTTPServer):
    def __init__(self, upstream: str, ca_bundle: str, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Relay)
        self.upstream = upstream
        self.ca_bundle = ca_bundle
        self.socket = context.wrap_socket(self.socket, server_side=True)


@pytest.fixture
def middlebox(emulator: Emulator, tmp_path: Path) -> Iterator[str]:
    """A TLS-terminating relay for `mtlsauth.microsoft.com` (certificate from the emulator's CA,
    so the client's TLS verification passes); yields its `host:port`."""
    key = new_rsa_key()
    certificate = emulator.state.ca.issue(
        key.public_key(),
        name(MTLS_HOST),
        days=1,
        client_auth=False,
        server_auth=True,
        san=loopback_san(MTLS_HOST),
    )
    pem = tmp_path / "relay.pem"
    pem.write_bytes(
        certificate.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(pem)  # verify_mode stays CERT_NONE: no client certificate asked
    manifest = emulator.manifest
    proxy = _TerminatingProxy(manifest.mtls_token_endpoint_base, manifest.ca_bundle, context)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{proxy.server_address[1]}"  # pytest resumes here whatever the outcome
    proxy.shutdown()
    proxy.server_close()


def through(manifest: EmulatorManifest, mtls_target: str) -> dict[str, str]:
    """The emulator's env values, IMDS at 169.254.169.254, the mTLS host routed to `target`."""
    environ = manifest.env()
    environ.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    routes = [
        entry
        for entry in environ[CONNECT_TO_VARIABLE].split(",")
        if not entry.startswith(f"{MTLS_HOST}:443=")
    ]
    environ[CONNECT_TO_VARIABLE] = ",".join([f"{MTLS_HOST}:443={mtls_target}", *routes])
    return environ


def acquire_through(emulator: Emulator, mtls_target: str, **credential: Any) -> None:
    manifest = emulator.manifest
    config = certificate_config(manifest)
    config["AzureAd"]["Instance"] = PUBLIC
    config["AzureAd"]["ClientCredentials"][0].update(credential)
    settings = IdentityWebSettings.from_mapping(config)
    factory = TokenAcquirerFactory(settings, environ=through(manifest, mtls_target))
    with factory.build() as services:
        services.token_acquirer.acquire_token_for_app(manifest.resource.scope, bound=not credential)


@pytest.mark.parametrize(
    "credential",
    [{}, {"UseBoundCredential": True}],
    ids=["mtls_pop", "use_bound_credential"],
)
def test_a_middlebox_that_strips_the_client_certificate_is_named(
    emulator: Emulator, middlebox: str, credential: dict[str, Any]
) -> None:
    """The client presented its certificate to the relay; the emulator got none (9900002), and
    the error says where to look, not only "invalid_client"."""
    with pytest.raises(ServiceError, match=NO_CERTIFICATE_HINT) as refused:
        acquire_through(emulator, middlebox, **credential)
    assert refused.value.has_code(9900002)
    assert "TLS-inspecting firewall" in str(refused.value)
    assert "certificate presented on TLS is registered" not in str(refused.value)
    (entry,) = emulator.requests("entra.mtls_token")
    assert entry["headers"]["host"] == MTLS_HOST
    assert entry["client_cert_x5t_s256"] is None


def test_the_same_request_without_the_middlebox_succeeds(emulator: Emulator) -> None:
    direct = ConnectTo.from_environ(emulator.manifest.env()).target(MTLS_HOST, 443)
    assert direct is not None
    acquire_through(emulator, f"{direct[0]}:{direct[1]}", UseBoundCredential=True)
    (entry,) = emulator.requests("entra.mtls_token")
    assert entry["client_cert_x5t_s256"] == emulator.demo_credential.x5t_s256


@pytest.mark.parametrize("token_type", ["mtls_pop", None])
def test_a_raw_request_without_a_client_certificate_is_9900002(
    emulator: Emulator, token_type: str | None
) -> None:
    """By the production name over real TLS, presenting no certificate at all."""
    manifest = emulator.manifest
    url = f"https://{MTLS_HOST}/{manifest.tenant_id}/oauth2/v2.0/token"
    form = {
        "grant_type": "client_credentials",
        "client_id": manifest.apps[0].client_id,
        "scope": manifest.resource.scope,
        **({"token_type": token_type} if token_type else {}),
    }
    connect_to = ConnectTo.from_environ(manifest.env())
    with HttpTransport(ca_bundle=manifest.ca_bundle, connect_to=connect_to) as transport:
        response = transport.send(HttpRequest("POST", url, form=form))
    body = response.json_object()
    assert (response.status, body["error"], body["error_codes"]) == (
        401,
        "invalid_client",
        [9900002],
    )
    assert "none was presented" in body["error_description"]
