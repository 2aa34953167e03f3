"""Helpers for acquisition tests: certificates, a scripted identity provider, fake seams.

`ScriptedRunner` drives flows in memory (tier 1 only): each request is answered by a handler,
and every request is recorded. Integration tests use the emulator instead.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from identity_web.credentials import (
    CertificateCredential,
    LoadedCredential,
    SecretCredential,
    SignedAssertion,
)
from identity_web.emulator import Emulator
from identity_web.protocol import BindingCertificate, HttpRequest, HttpResponse, TokenResponse
from identity_web.protocol.steps import Step
from identity_web.transport import Drivers

T = TypeVar("T")
Handler = Callable[[HttpRequest], HttpResponse]


def token_posts(emulator: Emulator) -> list[dict[str, Any]]:
    """Request-log entries of the emulator's token endpoints (login and mtlsauth hosts)."""
    return [e for e in emulator.requests() if e["endpoint"] in ("entra.token", "entra.mtls_token")]


def json_response(status: int, payload: Any, **headers: str) -> HttpResponse:
    return HttpResponse(status, headers, json.dumps(payload).encode())


def token_answer(token_type: str = "Bearer", expires_in: int = 3600, **extra: Any) -> HttpResponse:
    body = {"token_type": token_type, "expires_in": expires_in, "access_token": "at-" + token_type}
    body.update(extra)
    return json_response(200, body)


class ScriptedRunner:
    """The real drivers over `handler` (records requests; optional delay per request)."""

    def __init__(self, handler: Handler, *, delay: float = 0.0) -> None:
        self.handler = handler
        self.delay = delay
        self.requests: list[HttpRequest] = []
        self._lock = threading.Lock()
        self.drivers = Drivers(self._send, self._send_async, retries=False)

    def _answer(self, request: HttpRequest) -> HttpResponse:
        with self._lock:
            self.requests.append(request)
        return self.handler(request)

    def _send(self, request: HttpRequest) -> HttpResponse:
        if self.delay:
            time.sleep(self.delay)
        return self._answer(request)

    async def _send_async(self, request: HttpRequest) -> HttpResponse:
        if self.delay:
            await asyncio.sleep(self.delay)
        return self._answer(request)

    def run(self, step: Step[T]) -> T:
        return self.drivers.run(step)

    async def run_async(self, step: Step[T]) -> T:
        return await self.drivers.run_async(step)

    def posts(self) -> list[HttpRequest]:
        return [r for r in self.requests if r.method == "POST"]


@dataclass
class FakeCredentials:
    """A credentials provider whose selection can be swapped (assigning `credential` tells the
    watchers, as the real one does); counts resets."""

    credential: LoadedCredential
    after_reset: LoadedCredential | None = None
    resets: int = 0
    watchers: list[Callable[[], None]] = field(default_factory=list)

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, value)
        if name == "credential":
            for changed in getattr(self, "watchers", ()):
                changed()

    def watch(self, changed: Callable[[], None]) -> None:
        self.watchers.append(changed)

    @property
    def current(self) -> LoadedCredential | None:
        return self.credential

    current_bound = current

    def selected(self, bound: bool = False) -> Step[LoadedCredential]:
        return self.credential
        yield  # a step that needs nothing

    def reject_selected(self, codes: str, *, bound: bool) -> bool:
        return False  # one credential: nothing else to try

    def record_rejection(self, codes: str, *, bound: bool) -> None:
        pass

    def reset(self) -> None:
        self.resets += 1
        if self.after_reset is not None:
            self.credential = self.after_reset


def secret_credential() -> SecretCredential:
    return SecretCredential(secret="s3cret-value", description_id="ClientSecret=abc")


def certificate_credential(certificate: BindingCertificate) -> CertificateCredential:
    return CertificateCredential(certificate=certificate, description_id="Path=/app.pfx")


@dataclass
class FakeAssertionProvider:
    """FIC leg 1 stand-in: one GET, then a (bound) assertion."""

    certificate: BindingCertificate | None
    supports_token_binding: bool = True
    calls: list[bool] = field(default_factory=list)

    def assertion_flow(self, *, bound: bool, now: float) -> Step[SignedAssertion]:
        self.calls.append(bound)
        yield HttpRequest("GET", "https://leg1.invalid/token")
        return SignedAssertion(
            assertion="leg1-assertion",
            expires_on=now + 3600,
            binding_certificate=self.certificate if bound else None,
        )


@dataclass
class FakeManagedIdentity:
    certificate: BindingCertificate
    calls: list[tuple[str, bool, str | None]] = field(default_factory=list)

    def token_flow(
        self, identity: Any, scope: str, *, bound: bool, now: float, claims: str | None = None
    ) -> Step[TokenResponse]:
        self.calls.append((scope, bound, claims))
        response = yield HttpRequest("GET", "http://169.254.169.254/metadata/identity/oauth2/token")
        assert response.status == 200
        return TokenResponse(
            access_token="mi-token",
            token_type="mtls_pop" if bound else "Bearer",
            expires_on=now + 3600,
            binding_certificate=self.certificate if bound else None,
            token_endpoint="https://mtlsauth.microsoft.com/t/oauth2/v2.0/token" if bound else "",
        )
