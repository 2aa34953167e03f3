"""Sans-IO HTTP values and the flow type shared by every protocol module and both drivers.

A flow is a generator that yields `HttpRequest`s and receives `HttpResponse`s, returning its
result (the `httpx.Auth.auth_flow` idea). Drivers in `identity_web.transport` only send.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias, TypeVar

from identity_web._binding import BindingCertificate

T = TypeVar("T")


class RetryPolicy(Protocol):
    """Decides, without I/O, whether and when a request is sent again.

    `attempt` counts sends so far (1 after the first); `response` is None when the send failed
    without an HTTP answer; `elapsed` is seconds since the first send. Returns the delay in
    seconds before the next send, or None to stop and hand the last outcome to the flow.
    """

    def next_delay(
        self, attempt: int, response: HttpResponse | None, elapsed: float
    ) -> float | None: ...


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """One request a flow wants sent.

    `tls_identity` is the client certificate to present (None: present none). Only requests
    that must carry a binding certificate set it, so it is never shown to other hosts.
    `pinned_server_sha1` pins the server certificate (Service Fabric) in addition to normal
    verification being replaced by the pin for that one request.
    """

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] | None = None
    json_body: Any = None
    content: bytes | None = None
    tls_identity: BindingCertificate | None = None
    retry: RetryPolicy | None = None
    timeout: float = 30.0
    pinned_server_sha1: str | None = None

    def __repr__(self) -> str:
        fields = sorted(self.form) if self.form else []
        return f"HttpRequest({self.method} {self.url}, form fields={fields})"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An HTTP answer. Header names are lower-cased."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str = ""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body as JSON. Raises `ValueError` (or `UnicodeDecodeError`), also for a body
        nested deeper than the parser's recursion limit."""
        try:
            return json.loads(self.body.decode("utf-8-sig"))
        except RecursionError:
            raise ValueError("the JSON body is nested too deeply") from None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {len(self.body)} bytes)"


Flow: TypeAlias = Generator[HttpRequest, HttpResponse, T]
