"""The servers the benchmarks talk to, each in its own process.

The token endpoint (and IMDS) is the emulator run as `python -m identity_web emulator`, read
through its manifest and driven through its admin API (request log, faults). The resource is a
real nginx over TLS asking for a client certificate (`ssl_verify_client optional_no_ca`, a
static 200 body, keep-alive), so a downstream call measures the client and the wire, not a
Python server sharing the GIL with the client. Without nginx, the emulator's resource API
answers instead, and every table says so.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization

from identity_web.emulator import EmulatorManifest
from identity_web.emulator._manifest import AppManifest, ManagedIdentityManifest, ResourceManifest
from identity_web.emulator._pki import CertificateAuthority, loopback_san, name, new_rsa_key, pem

STARTUP_SECONDS = 60.0
BODY = '{"ok": true}'
FEDERATED = "federated_managed_identities"


def read_manifest(data: Mapping[str, Any]) -> EmulatorManifest:
    """The manifest JSON (CONTRACTS.md) back as the emulator's value."""
    fields = dict(data)
    fields["resource"] = ResourceManifest(**fields["resource"])
    fields["apps"] = tuple(
        AppManifest(
            **{**app, "federated_managed_identities": tuple(app["federated_managed_identities"])}
        )
        for app in fields["apps"]
    )
    fields["managed_identities"] = tuple(
        ManagedIdentityManifest(**identity) for identity in fields["managed_identities"]
    )
    return EmulatorManifest(**fields)


class RemoteEmulator:
    """`identity-web emulator` in a child process; the request log and faults over its admin API."""

    def __init__(self, process: subprocess.Popen[bytes], manifest: EmulatorManifest) -> None:
        self.process = process
        self.manifest = manifest
        self._admin = httpx.Client(verify=manifest.ca_bundle, timeout=30.0)

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        params = {"endpoint": endpoint} if endpoint else None
        response = self._admin.get(f"{self.manifest.admin_url}requests", params=params)
        response.raise_for_status()
        entries: list[dict[str, Any]] = response.json()
        return entries

    def clear_requests(self) -> None:
        self._admin.delete(f"{self.manifest.admin_url}requests").raise_for_status()

    def inject_faults(self, endpoint: str, responses: Sequence[Mapping[str, Any]]) -> None:
        body = {"endpoint": endpoint, "responses": [dict(r) for r in responses]}
        self._admin.post(f"{self.manifest.admin_url}faults", json=body).raise_for_status()

    def clear_faults(self) -> None:
        self._admin.delete(f"{self.manifest.admin_url}faults").raise_for_status()

    def close(self) -> None:
        self._admin.close()
        _stop(self.process)


@contextlib.contextmanager
def remote_emulator(directory: Path) -> Iterator[RemoteEmulator]:
    """Start the emulator in its own process and wait for its manifest."""
    manifest_path = directory / "manifest.json"
    command = [sys.executable, "-m", "identity_web", "emulator", "--manifest", str(manifest_path)]
    log = directory / "emulator.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + STARTUP_SECONDS
    while not manifest_path.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            error = log.read_text("utf-8", errors="replace")
            raise RuntimeError(f"the emulator did not start: {error[-2000:]}")
        time.sleep(0.05)
    manifest = read_manifest(json.loads(manifest_path.read_text("utf-8")))
    emulator = RemoteEmulator(process, manifest)
    try:
        yield emulator
    finally:
        emulator.close()


@dataclass(frozen=True, slots=True)
class ResourceServer:
    """Where downstream calls go, and which server answers them (shown in every table)."""

    base_url: str
    server: str

    @property
    def whoami_url(self) -> str:
        return f"{self.base_url}whoami"


NGINX_CONFIG = """
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_verify_client optional_no_ca;
        location / {{
            default_type application/json;
            return 200 '{body}';
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def nginx_version(binary: str) -> str:
    completed = subprocess.run(
        [binary, "-v"], capture_output=True, text=True, check=False, timeout=10
    )
    return (completed.stderr or completed.stdout).strip().removeprefix("nginx version: ")


@contextlib.contextmanager
def resource_server(
    directory: Path, emulator: EmulatorManifest
) -> Iterator[tuple[ResourceServer, Path | None]]:
    """nginx with a server certificate of a CA made here (yielded, for the clients' trust), or
    the emulator's resource API with a notice on stderr when nginx is missing or fails."""
    binary = nginx_binary()
    if binary is None:
        yield _fallback(emulator, "nginx is not installed"), None
        return
    prefix = directory / "nginx"
    prefix.mkdir()
    ca_path, cert, key = _server_certificate(prefix)
    port = _free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        NGINX_CONFIG.format(prefix=prefix, port=port, cert=cert, key=key, body=BODY), "utf-8"
    )
    log = prefix / "error.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [binary, "-c", str(conf), "-p", str(prefix)], stdout=subprocess.DEVNULL, stderr=stderr
        )
    try:
        _wait_for_port(port, process, log)
    except RuntimeError as error:
        _stop(process)
        yield _fallback(emulator, str(error)), None
        return
    server = ResourceServer(
        f"https://127.0.0.1:{port}/",
        f"nginx {nginx_version(binary)} (own process, static 200, keep-alive)",
    )
    try:
        yield server, ca_path
    finally:
        _stop(process)


def _fallback(emulator: EmulatorManifest, reason: str) -> ResourceServer:
    print(
        f"bench: NOTICE: {reason}; downstream calls go to the emulator's resource API "
        "(a Python server in the emulator's process) instead of nginx",
        file=sys.stderr,
    )
    return ResourceServer(
        emulator.resource.base_url, "emulator resource API (own process, validates each token)"
    )


def _server_certificate(directory: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA (the emulator's PKI helpers) and a server certificate for 127.0.0.1."""
    ca = CertificateAuthority.create("identity-web bench CA", days=1)
    key = new_rsa_key()
    leaf = ca.issue(
        key.public_key(),
        name("identity-web bench resource"),
        days=1,
        client_auth=False,
        server_auth=True,
        san=loopback_san(),
    )
    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_path.write_bytes(ca.pem)
    cert_path.write_bytes(pem(leaf))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return ca_path, cert_path, key_path


def trusting(
    manifest: EmulatorManifest, extra_ca: Path | None, directory: Path
) -> EmulatorManifest:
    """The manifest with a CA bundle that also trusts `extra_ca` (the resource server's)."""
    if extra_ca is None:
        return manifest
    bundle = directory / "trust.pem"
    bundle.write_bytes(Path(manifest.ca_bundle).read_bytes() + extra_ca.read_bytes())
    return replace(manifest, ca_bundle=str(bundle))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = log.read_text("utf-8", errors="replace")
            raise RuntimeError(f"nginx exited: {error[-1000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError("nginx did not open its port in time")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def servers() -> Iterator[tuple[RemoteEmulator, ResourceServer, EmulatorManifest]]:
    """The emulator and the resource server, each in its own process; the manifest trusts both."""
    with tempfile.TemporaryDirectory(prefix="identity-web-bench-") as name:
        directory = Path(name)
        with (
            remote_emulator(directory) as emulator,
            resource_server(directory, emulator.manifest) as (resource, ca),
        ):
            yield emulator, resource, trusting(emulator.manifest, ca, directory)
