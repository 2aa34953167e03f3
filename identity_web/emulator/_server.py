"""Threaded HTTP/1.1 listeners (TLS or plain) that hand each request to a `Service`.

TLS listeners request a client certificate at the handshake (optional) and attach the DER of
the presented leaf to every `EmulatorRequest` of that connection. Python's `ssl` only accepts a
client certificate it can verify, so the server context trusts the emulator CAs and every
registered app certificate (`VERIFY_X509_PARTIAL_CHAIN` lets a registered leaf act as its own
anchor); `trust(certificate)` adds more at run time.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import ssl
import struct
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import TCPServer, ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web.emulator._pki import pem
from identity_web.emulator._wire import (
    EmulatorRequest,
    EmulatorResponse,
    FaultKind,
    Service,
    TransportFault,
)

logger = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 10.0
IDLE_TIMEOUT = 120.0
MAX_BODY = 16 * 1024 * 1024
# TLS record: alert (21), version 3.3, length 2, level fatal (2), handshake_failure (40).
_FATAL_ALERT = bytes([21, 3, 3, 0, 2, 2, 40])
_LINGER_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a TCP RST


class ServerTls:
    """The server-side `SSLContext`s of an emulator's TLS listeners: one per server
    certificate (`context` for the first, `context_for(certificate)` for more), one trust."""

    def __init__(
        self,
        certificate: x509.Certificate,
        key_pem: bytes,
        trusted: list[x509.Certificate],
        key_password: bytes,
    ) -> None:
        self._lock = threading.Lock()
        self._trusted: list[bytes] = []
        self._key_pem = key_pem
        self._key_password = key_password
        self._contexts: list[ssl.SSLContext] = []
        self.context = self.context_for(certificate)
        for item in trusted:
            self.trust(item)

    def context_for(self, certificate: x509.Certificate) -> ssl.SSLContext:
        """A context that presents `certificate` and trusts what every other context trusts."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_OPTIONAL
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
        # No session resumption: every connection presents its own client certificate.
        context.options |= ssl.OP_NO_TICKET
        context.num_tickets = 0
        context.set_alpn_protocols(["http/1.1"])
        _load_cert_chain(context, certificate, self._key_pem, self._key_password)
        with self._lock:
            for data in self._trusted:
                context.load_verify_locations(cadata=data.decode("ascii"))
            self._contexts.append(context)
        return context

    def trust(self, certificate: x509.Certificate) -> None:
        """Accept client certificates that are, or chain to, `certificate`."""
        data = pem(certificate)
        with self._lock:
            if data in self._trusted:
                return
            self._trusted.append(data)
            for context in self._contexts:
                context.load_verify_locations(cadata=data.decode("ascii"))


def _load_cert_chain(
    context: ssl.SSLContext, certificate: x509.Certificate, key_pem: bytes, password: bytes
) -> None:
    """Load the server certificate and its (encrypted) key through an anonymous memory file,
    or, where `memfd_create` is missing, a 0600 temporary file removed right after loading."""
    data = pem(certificate) + key_pem
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("identity-web-emulator-server", 0)
        try:
            os.write(fd, data)
            context.load_cert_chain(f"/proc/self/fd/{fd}", password=password)
        finally:
            os.close(fd)
        return
    with tempfile.TemporaryDirectory(prefix="identity-web-emulator-") as directory:
        path = os.path.join(directory, "server.pem")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        context.load_cert_chain(path, password=password)


def encrypted_key_pem(key: rsa.RSAPrivateKey, password: bytes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password),
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: Listener
    timeout = IDLE_TIMEOUT
    _drop_next = False

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_OPTIONS(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        if self._drop_next:  # a `keepalive_close` fault: the server closes, answering nothing
            self.close_connection = True
            return
        try:
            request = self._read_request()
        except ValueError as error:
            self._write(EmulatorResponse.text(400, f"bad request: {error}"))
            return
        try:
            response = self.server.service.handle(request)
        except Exception:
            logger.exception(
                "%s: unhandled error for %s %s", self.server.name, self.command, request.path
            )
            response = EmulatorResponse.json(500, {"error": "server_error"})
        self._write(response)

    def _read_request(self) -> EmulatorRequest:
        parts = urlsplit(self.path)
        query = {
            key: values[-1] for key, values in parse_qs(parts.query, keep_blank_values=True).items()
        }
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return EmulatorRequest(
            method=self.command,
            path=parts.path,
            query=query,
            headers=headers,
            body=self._read_body(headers),
            client_cert_der=self._client_certificate(),
            host=headers.get("host", ""),
        )

    def _read_body(self, headers: dict[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        length = int(headers.get("content-length", "0") or "0")
        if length < 0 or length > MAX_BODY:
            raise ValueError("content-length out of range")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(chunks)
            total += size
            if total > MAX_BODY:
                raise ValueError("body too large")
            chunks.append(self.rfile.read(size))
            self.rfile.readline()

    def _client_certificate(self) -> bytes | None:
        if isinstance(self.connection, ssl.SSLSocket):
            return self.connection.getpeercert(binary_form=True)
        return None

    def _write(self, response: EmulatorResponse) -> None:
        self.log_request(response.status)
        fault = response.fault
        if fault is not None and fault.kind is FaultKind.TLS_ALERT:
            self._send_alert()
            return
        self.send_response_only(response.status)
        self.send_header("Date", self.date_time_string())
        if not any(name.lower() == "server" for name in response.headers):
            self.send_header("Server", self.version_string())
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        body = response.body if self.command != "HEAD" else b""
        if fault is None or fault.kind in (FaultKind.RESPONSE, FaultKind.KEEPALIVE_CLOSE):
            if body:
                self.wfile.write(body)
            self._drop_next = fault is not None
        elif fault.kind is FaultKind.SLOW_BODY:
            self._trickle(body, fault)
        else:
            self.wfile.write(body[: fault.cut(body)])
            self._break_connection(reset=fault.kind is FaultKind.CONNECTION_RESET)

    def _trickle(self, body: bytes, fault: TransportFault) -> None:
        for start in range(0, len(body), fault.chunk_bytes):
            if start:
                time.sleep(fault.interval_ms / 1000)
            self.wfile.write(body[start : start + fault.chunk_bytes])

    def _send_alert(self) -> None:
        """A fatal `handshake_failure` alert record, in the clear, on the raw socket."""
        os.write(self.connection.fileno(), _FATAL_ALERT)
        self._break_connection(reset=False)

    def _break_connection(self, *, reset: bool) -> None:
        """End the connection now: a TCP RST (`reset`) or a plain close, no TLS close_notify."""
        self.close_connection = True
        if reset:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RESET)
        else:
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s: " + format, self.server.name, *args)


class Listener(ThreadingMixIn, HTTPServer):
    """One loopback listener on an ephemeral port, serving `service` in daemon threads."""

    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(
        self, name: str, host: str, service: Service, tls: ssl.SSLContext | None = None
    ) -> None:
        self.name = name
        self.host = host
        self.service = service
        self.tls = tls
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.address_family = family
        super().__init__((host, 0), _Handler)

    def server_bind(self) -> None:
        """Bind without `HTTPServer`'s reverse DNS lookup of the address (slow on some hosts)."""
        TCPServer.server_bind(self)
        self.server_name = self.host
        self.server_port = self.port

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def address(self) -> str:
        """`host:port` as a URL authority (`[::1]:port` for IPv6)."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"{shown}:{self.port}"

    @property
    def base_url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.address}"

    @property
    def open_connections(self) -> int:
        with self._connections_lock:
            return len(self._connections)

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": 0.2},
            name=f"emulator-{self.name}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:  # shutdown() would wait forever for a loop never started
            self.shutdown()
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            _close_quietly(connection)
        self.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def finish_request(self, request: Any, client_address: Any) -> None:
        connection = self._secure(request)
        with self._connections_lock:
            self._connections.add(connection)
        try:
            _Handler(connection, client_address, self)
        finally:
            with self._connections_lock:
                self._connections.discard(connection)
            if connection is not request:
                _close_quietly(connection)

    def _secure(self, connection: socket.socket) -> socket.socket:
        """Run the TLS handshake in the connection's own thread (never in the accept loop)."""
        if self.tls is None:
            return connection
        connection.settimeout(HANDSHAKE_TIMEOUT)
        tls_socket = self.tls.wrap_socket(
            connection, server_side=True, do_handshake_on_connect=False
        )
        try:
            tls_socket.do_handshake()
        except (OSError, ValueError):
            _close_quietly(tls_socket)
            raise
        tls_socket.settimeout(IDLE_TIMEOUT)
        return tls_socket

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug(
            "%s: connection from %s ended with an error", self.name, client_address, exc_info=True
        )


def _close_quietly(connection: socket.socket) -> None:
    with contextlib.suppress(OSError):
        connection.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        connection.close()
