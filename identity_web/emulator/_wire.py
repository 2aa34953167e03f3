"""Request and response values inside the emulator, independent of the HTTP server underneath.

Every emulated host (login, mtlsauth, resource, IMDS, admin, App Service, Arc …) is a `Service`
whose `handle` turns an `EmulatorRequest` into an `EmulatorResponse`. The server layer parses
HTTP, attaches the TLS client certificate the connection presented, and writes the answer.
"""

from __future__ import annotations

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


@dataclass(frozen=True, slots=True)
class EmulatorResponse:
    """An answer; its body (tokens, issued certificates) stays out of the repr."""

    status: int
    body: bytes = field(default=b"", repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)

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
