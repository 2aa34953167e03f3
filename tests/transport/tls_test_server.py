"""A small real HTTPS server on 127.0.0.1 that reports the client certificate it saw.

Every answer is JSON: `{"client_x5t_s256": <x5t#S256 of the presented client certificate or
null>, "method", "path", "query"}`. `script` holds canned answers (status, headers, body,
delay) served first, in order. `/pha` asks for a client certificate after the handshake
(TLS 1.3 post-handshake authentication); the certificate shows up on the next request of that
connection.
"""

from __future__ import annotations

import json
import ssl
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from certgen import Issued

from identity_web.protocol import x5t_s256


@dataclass
class Canned:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b"{}"
    delay: float = 0.0


@dataclass
class Seen:
    method: str
    path: str
    client_x5t_s256: str | None
    headers: dict[str, str]
    body: bytes


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        der = self.connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        thumbprint = x5t_s256(der) if der else None
        path, _, query = self.path.partition("?")
        with self.server.lock:
            self.server.seen.append(
                Seen(self.command, path, thumbprint, dict(self.headers.items()), body)
            )
            canned = self.server.script.popleft() if self.server.script else None
        if canned is None:
            canned = self._default(path, query, thumbprint)
        time.sleep(canned.delay)
        self.send_response(canned.status)
        for name, value in canned.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(canned.body)))
        if self.server.close_connections:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(canned.body)

    def _default(self, path: str, query: str, thumbprint: str | None) -> Canned:
        if path == "/pha":
            thumbprint = self._post_handshake_certificate()
        answer = {"client_x5t_s256": thumbprint, "method": self.command, "path": path}
        answer["query"] = query
        return Canned(body=json.dumps(answer).encode())

    def _post_handshake_certificate(self) -> str | None:
        """Ask for the client certificate now and wait for it before answering."""
        connection = self.connection
        connection.verify_client_post_handshake()  # type: ignore[attr-defined]
        connection.do_handshake()  # type: ignore[attr-defined]  # sends the CertificateRequest
        connection.settimeout(0.3)
        try:
            connection.recv(1)  # processes the client's Certificate; no data is coming
        except TimeoutError:
            pass
        finally:
            connection.settimeout(None)
        der = connection.getpeercert(binary_form=True)  # type: ignore[attr-defined]
        return x5t_s256(der) if der else None

    do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 - http.server's names


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.lock = threading.Lock()
        self.seen: list[Seen] = []
        self.script: deque[Canned] = deque()
        self.close_connections = False

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        return self.context.wrap_socket(
            sock, server_side=True, do_handshake_on_connect=False
        ), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        return  # clients that time out or hang up early are part of the tests

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.do_handshake()
        except (OSError, ssl.SSLError):
            return  # probes and clients that refuse our certificate end here
        super().finish_request(request, client_address)


class TlsTestServer:
    """Start with `with TlsTestServer(...) as server:`; `server.url` is `https://127.0.0.1:PORT`."""

    def __init__(
        self,
        directory: Path,
        server: Issued,
        *,
        chain: tuple[Issued, ...] = (),
        client_ca: Issued | None = None,
        post_handshake: bool = False,
    ) -> None:
        self._directory = directory
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.use_certificate(server, chain)
        if client_ca is not None:
            self.context.verify_mode = ssl.CERT_OPTIONAL
            self.context.load_verify_locations(cadata=client_ca.cert_pem.decode())
            self.context.post_handshake_auth = post_handshake
        self._server = _Server(self.context)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def use_certificate(self, server: Issued, chain: tuple[Issued, ...] = ()) -> None:
        """Present `server` from the next handshake on."""
        path = self._directory / f"server-{id(server)}.pem"
        path.write_bytes(server.cert_pem + b"".join(c.cert_pem for c in chain) + server.key_pem())
        self.context.load_cert_chain(path)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def seen(self) -> list[Seen]:
        with self._server.lock:
            return list(self._server.seen)

    def script(self, *answers: Canned) -> None:
        with self._server.lock:
            self._server.script.extend(answers)

    @property
    def close_connections(self) -> bool:
        return self._server.close_connections

    @close_connections.setter
    def close_connections(self, value: bool) -> None:
        self._server.close_connections = value

    def __enter__(self) -> TlsTestServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
