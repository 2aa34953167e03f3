"""The proxy path: a real nginx terminates TLS (client certificates verified against the
emulator's client CAs) in front of samples/web-api-mtls and passes the certificate in a
header the API trusts (`AzureAd.ClientCertificateHeader`). Daemons call through it; a header
forged by a client is overwritten by nginx, so it proves nothing."""

from __future__ import annotations

import shutil
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from web_api_helpers import bound_call, free_port, get, running, server_certificate, web_api

from identity_web.emulator import Emulator

HEADER = "X-SSL-Client-Cert"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

CONFIG = """
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_client_certificate {client_ca};
        ssl_verify_client optional;
        ssl_verify_depth 2;
        location / {{
            proxy_pass {upstream};
            proxy_ssl_trusted_certificate {ca_bundle};
            proxy_ssl_verify on;
            proxy_ssl_name localhost;
            proxy_ssl_server_name on;
            proxy_set_header {header} $ssl_client_escaped_cert;
        }}
    }}
}}
"""


@pytest.fixture(scope="module")
def proxied_api(
    identity_web_emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    emulator = identity_web_emulator
    directory = tmp_path_factory.mktemp("nginx")
    with web_api(emulator, directory, ClientCertificateHeader=HEADER) as upstream:
        port = free_port()
        prefix = directory / "nginx"
        prefix.mkdir()
        cert, key = server_certificate(emulator.state.ca, prefix)
        conf = prefix / "nginx.conf"
        conf.write_text(
            CONFIG.format(
                prefix=prefix,
                port=port,
                cert=cert,
                key=key,
                client_ca=emulator.manifest.client_ca_bundle,
                upstream=upstream.rstrip("/"),
                ca_bundle=emulator.manifest.ca_bundle,
                header=HEADER,
            ),
            "utf-8",
        )
        with running([NGINX, "-p", str(prefix), "-c", str(conf)], {}, port, prefix):
            yield f"https://127.0.0.1:{port}/"


def test_a_daemon_calls_through_nginx_with_a_bound_token(
    emulator: Emulator, proxied_api: str, tmp_path: Path
) -> None:
    bound_call(emulator, "cert-mtls", proxied_api, tmp_path)


def test_through_nginx_a_replay_without_the_certificate_is_refused(
    emulator: Emulator, proxied_api: str, tmp_path: Path
) -> None:
    call, binding = bound_call(emulator, "msi-mtls", proxied_api, tmp_path)
    url = proxied_api + "whoami"
    naked = get(emulator, url, call.authorization, None)
    assert naked.status_code == 401
    assert "Client certificate required" in naked.headers["www-authenticate"]
    # The certificate is public: a client that writes it into the trusted header itself gets
    # nowhere, because nginx replaces that header with what the TLS handshake proved.
    forged_pem = ssl.DER_cert_to_PEM_cert(binding.certificate.public_bytes(Encoding.DER))
    forged = get(emulator, url, call.authorization, None, {HEADER: quote(forged_pem)})
    assert forged.status_code == 401
    assert "Client certificate required" in forged.headers["www-authenticate"]
