"""Sans-IO HTTP values: the request a step yields (an effect) and the response it receives.

Steps and the other effects are in `identity_web.protocol.steps`; the drivers in
`identity_web.transport` only perform them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from identity_web.protocol._binding import BindingCertificate

#: Seconds one identity request may take as a whole, connect to the last byte of the body
#: (`HttpRequest.deadline`). MSAL Go gives a managed identity request one minute per attempt;
#: MSAL.NET's `HttpClient` times a whole exchange out after 100 s; azure-core bounds only each
#: connect and read (300 s). One minute, per attempt: the retry policies bound the attempts.
IDENTITY_DEADLINE = 60.0


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
    verification being replaced by the pin for that one request. `direct` requests never go
    through a proxy (managed identity endpoints: IMDS and the hosting platforms' local ones);
    every other request honours `HTTP(S)_PROXY`, `ALL_PROXY` and `NO_PROXY` as httpx does.
    `downstream` requests (the application's API calls) go through clients of their own, apart
    from the identity traffic (token endpoints, IMDS): a call never walks past the token
    endpoint's idle connection, and a busy API never holds the connections a refresh needs.

    `timeout` bounds each phase (connect, write, each read); `deadline` the whole exchange, so a
    body that trickles in cannot hold the call (`transport._deadline`). Identity requests keep
    the default; None (no overall bound) is for the downstream API calls, whose time is the
    application's.
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
    deadline: float | None = IDENTITY_DEADLINE
    pinned_server_sha1: str | None = None
    direct: bool = False
    downstream: bool = False

    def __repr__(self) -> str:
        fields = sorted(self.form) if self.form else []
        return f"HttpRequest({self.method} {self.url}, form fields={fields})"


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An HTTP answer. Header names are lower-cased (the transport hands over httpx's `Headers`,
    a Mapping that also looks names up case-insensitively)."""

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

    def json_object(self) -> dict[str, Any] | None:
        """The body as a JSON object, or None when it is not one (not JSON, or another type)."""
        try:
            body = self.json()
        except (ValueError, UnicodeDecodeError):
            return None
        return body if isinstance(body, dict) else None

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {len(self.body)} bytes)"


def redact_url(url: str) -> str:
    """The URL for logs and messages: without its query and fragment (they may carry
    signatures or identifiers). The one URL redactor of the package."""
    parts = urlsplit(url)
    return (
        f"{parts.scheme}://{parts.netloc}{parts.path}"
        if parts.scheme
        else url.split("?", maxsplit=1)[0]
    )
