"""Test helpers for managed identity: a fake-clock flow driver and HTTP value builders.

The driver applies each request's retry policy exactly as the transport must (count sends,
ask `next_delay`, "sleep" on a fake clock), so retry behaviour is testable without waiting.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

from identity_web import NetworkError
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.protocol.steps import Step
from identity_web.transport import Drivers

T = TypeVar("T")

Responder = Callable[[HttpRequest], HttpResponse | None]


def managed_identity_settings(emulator: Any, api: str = "MyApi", **options: Any) -> Any:
    """Settings with no application credential and a section `api` that asks the
    system-assigned identity for the emulator's resource."""
    from identity_web.settings import IdentityWebSettings  # noqa: PLC0415 - kit stays light

    return IdentityWebSettings.from_mapping(
        {
            "AzureAd": {},
            api: {
                "BaseUrl": emulator.manifest.resource.base_url,
                "RelativePath": "whoami",
                "Scopes": [emulator.manifest.resource.scope],
                "RequestAppToken": True,
                "AcquireTokenOptions": {"ManagedIdentity": {}},
                **options,
            },
        }
    )


def response(
    status: int,
    body: Any = b"",
    headers: Mapping[str, str] | None = None,
    url: str = "",
) -> HttpResponse:
    if not isinstance(body, bytes):
        body = json.dumps(body).encode() if not isinstance(body, str) else body.encode()
    return HttpResponse(status, {k.lower(): v for k, v in (headers or {}).items()}, body, url)


def query(request: HttpRequest) -> dict[str, str]:
    return {k: v[-1] for k, v in parse_qs(urlsplit(request.url).query).items()}


@dataclass
class FakeClock:
    now: float = 1_700_000_000.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class NoAnswerError(NetworkError):
    """The fake network gave no HTTP answer (the retry policy sees no response)."""

    def __init__(self, url: str) -> None:
        super().__init__(f"no answer from {url}", url=url)


@dataclass
class FakeDriver:
    """The real drivers over `responder` with a fake clock; records every request sent
    (retries included)."""

    responder: Responder
    clock: FakeClock = field(default_factory=FakeClock)
    sent: list[HttpRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.drivers = Drivers(self._attempt, sleep=self.clock.sleep, clock=self._now)

    def _now(self) -> float:
        return self.clock.now

    def _attempt(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request)
        answer = self.responder(request)
        if answer is None:
            raise NoAnswerError(request.url)
        return answer

    def send(self, request: HttpRequest) -> HttpResponse:
        """`request` sent with its retry policy."""
        return self.drivers.run(_sent(request))

    def run(self, step: Step[T]) -> T:
        return self.drivers.run(step)


def _sent(request: HttpRequest) -> Step[HttpResponse]:
    response: HttpResponse = yield request
    return response


def scripted(*answers: HttpResponse | None) -> Responder:
    """A responder that plays `answers` in order (then fails the test if asked again)."""
    queue = list(answers)

    def respond(request: HttpRequest) -> HttpResponse | None:
        assert queue, f"unexpected extra request {request.method} {request.url}"
        return queue.pop(0)

    return respond


def to_emulator_request(request: HttpRequest) -> EmulatorRequest:
    """The `EmulatorRequest` an emulator listener would build from `request` (tier-1 tests)."""
    parts = urlsplit(request.url)
    headers = {k.lower(): v for k, v in request.headers.items()}
    body = b""
    if request.form is not None:
        body = urlencode(dict(request.form)).encode()
        headers["content-type"] = "application/x-www-form-urlencoded"
    elif request.json_body is not None:
        body = json.dumps(request.json_body).encode()
        headers.setdefault("content-type", "application/json")
    cert = request.tls_identity.der if request.tls_identity else None
    return EmulatorRequest(
        method=request.method,
        path=parts.path,
        query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
        headers=headers,
        body=body,
        client_cert_der=cert,
        host=parts.netloc,
    )


def from_emulator_response(answer: EmulatorResponse, url: str) -> HttpResponse:
    return HttpResponse(
        answer.status, {k.lower(): v for k, v in answer.headers.items()}, answer.body, url
    )
