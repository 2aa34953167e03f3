"""Request and response values inside the emulator, independent of the HTTP server underneath.

Every emulated host (login, mtlsauth, resource, IMDS, admin, App Service, Arc …) is a `Service`
whose `handle` turns an `EmulatorRequest` into an `EmulatorResponse`. The server layer parses
HTTP, attaches the TLS client certificate the connection presented, and writes the answer.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs


@dataclass(frozen=True, slots=True)
class EmulatorRequest:
    """One HTTP request as a service sees it. Header names are lower-cased.

    Headers and body stay out of the repr: they carry secrets, assertions and tokens.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str] = field(repr=False)
    body: bytes = field(default=b"", repr=False)
    client_cert_der: bytes | None = None
    host: str = ""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def form(self) -> dict[str, str]:
        """The urlencoded body; the last value wins for repeated fields."""
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


class FaultKind(enum.StrEnum):
    """How the server layer delivers (or fails to deliver) an answer; see docs/emulator.md."""

    RESPONSE = "response"  # the answer, whole
    CONNECTION_RESET = "connection_reset"  # headers, part of the body, then a TCP RST
    TRUNCATED_BODY = "truncated_body"  # headers, part of the body, then a clean close (FIN)
    SLOW_BODY = "slow_body"  # the body trickles, `chunk_bytes` every `interval_ms`
    TLS_ALERT = "tls_alert"  # a fatal TLS alert record instead of the answer, then a close
    KEEPALIVE_CLOSE = "keepalive_close"  # the answer; the next request on it gets a close


@dataclass(frozen=True, slots=True)
class TransportFault:
    """A fault of the connection rather than of the HTTP answer.

    `after_bytes`: body bytes sent before a reset or truncation (None = half the body).
    """

    kind: FaultKind
    after_bytes: int | None = None
    chunk_bytes: int = 1
    interval_ms: int = 100

    def cut(self, body: bytes) -> int:
        """How many body bytes go out before a reset or a truncation."""
        wanted = len(body) // 2 if self.after_bytes is None else self.after_bytes
        return max(0, min(wanted, len(body) - 1)) if body else 0


@dataclass(frozen=True, slots=True)
class EmulatorResponse:
    """An answer; its body (tokens, issued certificates) stays out of the repr.

    `fault` (set only by scripted faults) tells the server layer to break the delivery.
    """

    status: int
    body: bytes = field(default=b"", repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    fault: TransportFault | None = None

    @classmethod
    def json(
        cls, status: int, payload: Any, headers: Mapping[str, str] | None = None
    ) -> EmulatorResponse:
        merged = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
        return cls(status, json.dumps(payload).encode("utf-8"), merged)

    @classmethod
    def text(
        cls, status: int, text: str, headers: Mapping[str, str] | None = None
    ) -> EmulatorResponse:
        merged = {"Content-Type": "text/plain; charset=utf-8", **(headers or {})}
        return cls(status, text.encode("utf-8"), merged)


class Service(Protocol):
    """An emulated host."""

    def handle(self, request: EmulatorRequest) -> EmulatorResponse: ...
