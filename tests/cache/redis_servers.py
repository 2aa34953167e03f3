"""Real redis-server processes for the cache tests: single nodes (plain, ACL, TLS) and a cluster.

Each server listens on a free loopback port, keeps nothing on disk (`save ""`) and can be
killed, paused (SIGSTOP: a server that accepts connections but never answers) and restarted on
the same port.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from cryptography.hazmat.primitives import serialization

from identity_web.emulator._pki import CertificateAuthority, loopback_san, name, new_rsa_key, pem

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
ACL_USER = "tokens"
ACL_PASSWORD = "s3cret-acl-password"
SENTINEL_SERVICE = "tokens-primary"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    ca: Path
    cert: Path
    key: Path


def make_tls_files(directory: Path) -> TlsFiles:
    """A CA and a server certificate for 127.0.0.1 / localhost (the emulator's PKI helpers)."""
    authority = CertificateAuthority.create("redis test CA", days=1)
    key = new_rsa_key()
    server = authority.issue(
        key.public_key(), name("127.0.0.1"), days=1, server_auth=True, san=loopback_san()
    )
    files = TlsFiles(directory / "ca.pem", directory / "server.pem", directory / "server.key")
    files.ca.write_bytes(authority.pem)
    files.cert.write_bytes(pem(server))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return files


class RedisServer:
    """One redis-server child process. `url` is what a `TokenCache.ConnectionString` holds."""

    def __init__(
        self,
        directory: Path,
        *,
        acl: bool = False,
        tls: TlsFiles | None = None,
        cluster: bool = False,
        sentinel_for: RedisServer | None = None,
        extra: tuple[str, ...] = (),
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.bus_port = free_port()  # the cluster bus (default port + 10000 may not exist)
        self.acl = acl
        self.tls = tls
        self.cluster = cluster
        self.sentinel_for = sentinel_for
        self.extra = extra
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        auth = f"{ACL_USER}:{ACL_PASSWORD}@" if self.acl else ""
        scheme = "rediss" if self.tls else "redis"
        return f"{scheme}://{auth}127.0.0.1:{self.port}/0"

    def _config(self) -> str:
        lines = ["bind 127.0.0.1", "save ''", "appendonly no", f"dir {self.directory}"]
        if self.tls:
            lines += [
                "port 0",
                f"tls-port {self.port}",
                f"tls-cert-file {self.tls.cert}",
                f"tls-key-file {self.tls.key}",
                f"tls-ca-cert-file {self.tls.ca}",
                "tls-auth-clients no",
            ]
        else:
            lines.append(f"port {self.port}")
        if self.acl:
            lines += ["user default off", f"user {ACL_USER} on >{ACL_PASSWORD} ~* &* +@all"]
        if self.sentinel_for is not None:
            lines += [
                f"sentinel monitor {SENTINEL_SERVICE} 127.0.0.1 {self.sentinel_for.port} 1",
                f"sentinel down-after-milliseconds {SENTINEL_SERVICE} 1000",
            ]
        if self.cluster:
            lines += ["cluster-enabled yes", "cluster-config-file nodes.conf"]
            lines += ["cluster-node-timeout 2000", f"cluster-port {self.bus_port}"]
        return "\n".join([*lines, *self.extra]) + "\n"

    def start(self) -> RedisServer:
        config = self.directory / "redis.conf"
        config.write_text(self._config())
        with (self.directory / "redis.log").open("ab") as log:
            command = [REDIS_SERVER, str(config)]  # our own binary and config file
            command += ["--sentinel"] if self.sentinel_for is not None else []
            self.process = subprocess.Popen(command, stdout=log, stderr=log)  # noqa: S603
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if self.admin().ping():
                    return self
            except (redis.RedisError, OSError):
                time.sleep(0.02)
        raise RuntimeError(
            f"redis-server did not start: {(self.directory / 'redis.log').read_text()}"
        )

    def admin(self, **kwargs: Any) -> redis.Redis:
        options: dict[str, Any] = {"socket_timeout": 2, "socket_connect_timeout": 2}
        if self.acl:
            options.update(username=ACL_USER, password=ACL_PASSWORD)
        if self.tls:
            options.update(ssl=True, ssl_ca_certs=str(self.tls.ca))
        options.update(kwargs)
        return redis.Redis(host="127.0.0.1", port=self.port, **options)

    def kill(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def pause(self) -> None:
        """SIGSTOP: the port stays open but nothing answers (a hung server)."""
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        if self.process is not None:
            os.kill(self.process.pid, signal.SIGCONT)


def form_cluster(nodes: list[RedisServer]) -> None:
    """Three empty cluster-enabled nodes → one cluster, the 16384 slots split between them."""
    share = 16384 // len(nodes)
    for index, node in enumerate(nodes):
        last = 16383 if index == len(nodes) - 1 else (index + 1) * share - 1
        node.admin().execute_command("CLUSTER", "ADDSLOTSRANGE", index * share, last)
    for node in nodes[1:]:
        nodes[0].admin().execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, node.bus_port)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        states = [node.admin().execute_command("CLUSTER", "INFO") for node in nodes]
        if all(_cluster_ok(state) for state in states):
            return
        time.sleep(0.1)
    raise RuntimeError("the test cluster did not converge")


def _cluster_ok(info: Any) -> bool:
    if isinstance(info, dict):
        return str(info.get("cluster_state", info.get(b"cluster_state"))) in {"ok", "b'ok'"}
    text = info.decode() if isinstance(info, bytes) else str(info)
    return "cluster_state:ok" in text
