"""Run samples/web-api-mtls as a user would (its main.py, a real TLS server on loopback), and
call it as a daemon (the public API) or as a hand-made client (replays)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web import TokenAcquirerFactory
from identity_web.cli._demo import API, SCENARIOS
from identity_web.emulator import Emulator
from identity_web.emulator._pki import CertificateAuthority, loopback_san, name
from identity_web.protocol import BindingCertificate
from identity_web.settings import IdentityWebSettings
from identity_web.transport import ssl_context_for

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "web-api-mtls"
MTLS_POP = "MTLS_POP"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited: {process.communicate()[1][-2000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        except OSError:
            time.sleep(0.1)
        else:
            return
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def server_certificate(ca: CertificateAuthority, directory: Path) -> tuple[Path, Path]:
    """A TLS server certificate for 127.0.0.1 from `ca` (trusted by the emulator's clients)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    certificate = ca.issue(
        key.public_key(),
        name("web-api-mtls sample"),
        days=1,
        client_auth=False,
        server_auth=True,
        san=loopback_san(),
    )
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def audience(emulator: Emulator) -> str:
    return emulator.manifest.resource.scope.removesuffix("/.default")


def sample_environment(emulator: Emulator, directory: Path, port: int) -> dict[str, str]:
    manifest = emulator.manifest
    cert, key = server_certificate(emulator.state.ca, directory)
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AzureAd__")}
    return {
        **inherited,
        **manifest.env(),
        "AzureAd__Instance": manifest.instance,
        "AzureAd__TenantId": manifest.tenant_id,
        "AzureAd__Audience": audience(emulator),
        "WEB_API_BIND": f"127.0.0.1:{port}",
        "WEB_API_TLS_CERT": str(cert),
        "WEB_API_TLS_KEY": str(key),
        "WEB_API_CLIENT_CA": manifest.client_ca_bundle,
    }


@contextmanager
def running(command: list[str], env: Mapping[str, str], port: int, cwd: Path) -> Iterator[None]:
    process = subprocess.Popen(  # noqa: S603 - our own sample or nginx, fixed arguments
        command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for_port(port, process)
        yield
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        assert "Traceback" not in stderr, stderr[-3000:]


@contextmanager
def web_api(emulator: Emulator, directory: Path, **settings: str) -> Iterator[str]:
    """The sample running on a free loopback port; `settings` are AzureAd keys set through
    environment variables (`RequireBoundTokens="false"`). Yields its base URL."""
    port = free_port()
    env = sample_environment(emulator, directory, port)
    env.update({f"AzureAd__{key}": value for key, value in settings.items()})
    with running([sys.executable, "main.py"], env, port, SAMPLE):
        yield f"https://127.0.0.1:{port}/"


@dataclass(frozen=True)
class DaemonCall:
    status: int
    token_type: str | None
    binding: BindingCertificate | None
    body: Any
    authorization: str


def call_as_daemon(
    emulator: Emulator, scenario: str, base_url: str, directory: Path, scheme: str = MTLS_POP
) -> DaemonCall:
    """One of the demo's daemon configurations (certificate, managed identity, FIC), pointed
    at `base_url`, through TokenAcquirerFactory and DownstreamApi.call."""
    manifest = emulator.manifest
    settings = SCENARIOS[scenario].settings(manifest, scheme)
    settings[API]["BaseUrl"] = base_url
    config_dir = directory / scenario
    config_dir.mkdir(exist_ok=True)
    (config_dir / "appsettings.json").write_text(json.dumps(settings), "utf-8")
    factory = TokenAcquirerFactory.from_config_dir(config_dir, environ=manifest.env())
    factory.add_downstream_api(API)
    with factory.build() as services:
        response = services.downstream_api.call(API)
        options = IdentityWebSettings.from_mapping(settings).downstream_api(API)
        header = services.authorization_header_provider.create_authorization_header(options)
    return DaemonCall(
        response.status,
        response.token_type,
        response.binding_certificate,
        response.json(),
        header.header_value,
    )


def bound_call(
    emulator: Emulator, scenario: str, base_url: str, directory: Path
) -> tuple[DaemonCall, BindingCertificate]:
    """`call_as_daemon` with MTLS_POP; the API must have accepted it and seen cnf equal to the
    thumbprint of the TLS client certificate, which is the daemon's binding certificate."""
    call = call_as_daemon(emulator, scenario, base_url, directory)
    assert call.status == 200, call.body
    assert call.binding is not None
    seen = call.body
    assert seen["cnf_x5t_s256"] == seen["client_cert_x5t_s256"] == call.binding.x5t_s256
    return call, call.binding


def get(
    emulator: Emulator,
    url: str,
    authorization: str | None,
    credential: BindingCertificate | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    sent = dict(headers or {})
    if authorization is not None:
        sent["Authorization"] = authorization
    with httpx.Client(
        verify=ssl_context_for(credential, ca_bundle=emulator.manifest.ca_bundle), timeout=15
    ) as http:
        return http.get(url, headers=sent)
