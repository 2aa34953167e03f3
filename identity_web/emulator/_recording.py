"""The request log and the scripted faults behind the admin API (`/_emulator/`)."""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from identity_web.emulator._wire import (
    EmulatorRequest,
    EmulatorResponse,
    FaultKind,
    TransportFault,
)
from identity_web.protocol._binding import x5t_s256

# Endpoint names that the log and the fault plan use. Services may add their own names.
ENDPOINTS = (
    "entra.token",
    "entra.mtls_token",
    "entra.openid_configuration",
    "entra.keys",
    "resource",
    "imds.token",
    "imds.issuecredential",
    "imds.getplatformmetadata",
    "imds.compute",
    "appservice.token",
    "arc.token",
    "cloudshell.token",
    "servicefabric.token",
    "machinelearning.token",
    "keyvault.secrets",
)

MASK = "***"
# Field names whose values never reach the log (secrets, assertions, tokens).
_SECRET_FIELDS = frozenset(
    {
        "client_secret",
        "client_assertion",
        "assertion",
        "access_token",
        "refresh_token",
        "attestation_token",
        "password",
        "secret",
    }
)
# Field names whose values are large and useless in a log.
_OMITTED_FIELDS = frozenset({"csr", "certificate"})
# Headers that carry secrets (the Authorization value is reduced to its scheme).
_SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-identity-header", "secret"}
)
_MAX_VALUE = 512


def mask_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Field names with their non-secret values; secrets become `***`, CSRs `<omitted>`."""
    masked: dict[str, Any] = {}
    for key, value in fields.items():
        lowered = key.lower()
        if lowered in _SECRET_FIELDS:
            masked[key] = MASK
        elif lowered in _OMITTED_FIELDS:
            masked[key] = "<omitted>"
        elif isinstance(value, str) and len(value) > _MAX_VALUE:
            masked[key] = value[:_MAX_VALUE] + "..."
        elif isinstance(value, str | int | float | bool) or value is None:
            masked[key] = value
        else:
            masked[key] = "<structured>"
    return masked


def _body_fields(request: EmulatorRequest) -> dict[str, Any]:
    if not request.body:
        return {}
    content_type = request.header("content-type").lower()
    try:
        if "json" in content_type:
            parsed = request.json()
            return parsed if isinstance(parsed, dict) else {}
        if "x-www-form-urlencoded" in content_type:
            return dict(request.form())
    except (ValueError, UnicodeDecodeError):
        return {"<unparsable body>": len(request.body)}
    return {}


def _headers(request: EmulatorRequest) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():
        if name == "authorization":
            headers[name] = value.split(" ", 1)[0] + " " + MASK
        elif name in _SECRET_HEADERS:
            headers[name] = MASK
        else:
            headers[name] = value[:_MAX_VALUE]
    return headers


class RequestLog:
    """Every request the emulated hosts served, newest last, without secrets.

    An entry: `{"time", "endpoint", "method", "path", "query", "form", "headers",
    "client_cert_x5t_s256", "status"}` — `form` holds urlencoded or JSON body fields.
    """

    def __init__(self, clock: Callable[[], float] = time.time, limit: int = 10_000) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: deque[dict[str, Any]] = deque(maxlen=limit)

    def record(self, endpoint: str, request: EmulatorRequest, status: int) -> None:
        cert = request.client_cert_der
        entry = {
            "time": self._clock(),
            "endpoint": endpoint,
            "method": request.method,
            "path": request.path,
            "query": mask_fields(request.query),
            "form": mask_fields(_body_fields(request)),
            "headers": _headers(request),
            "client_cert_x5t_s256": x5t_s256(cert) if cert else None,
            "status": status,
        }
        with self._lock:
            self._entries.append(entry)

    def entries(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """A copy of the log, optionally only the entries of one endpoint name."""
        with self._lock:
            items = list(self._entries)
        return [dict(e) for e in items if endpoint is None or e["endpoint"] == endpoint]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass(frozen=True, slots=True)
class ScriptedResponse:
    """One scripted answer. `status=None` means: wait `delay_ms`, then serve normally.

    `kind` other than `response` breaks the delivery of the answer (the scripted one, or the
    normal one when `status` is None) at the connection level: see `FaultKind`.
    """

    status: int | None
    body: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_ms: int = 0
    kind: FaultKind = FaultKind.RESPONSE
    after_bytes: int | None = None
    chunk_bytes: int = 1
    interval_ms: int = 100

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> ScriptedResponse:
        status = item.get("status")
        body = item.get("body", "")
        if not isinstance(body, str):
            body = json.dumps(body)
        headers = item.get("headers") or {}
        if status is not None and not isinstance(status, int):
            raise ValueError("'status' must be an integer or null")
        if not isinstance(headers, dict):
            raise ValueError("'headers' must be an object")
        return cls(
            status,
            body,
            {str(k): str(v) for k, v in headers.items()},
            _count(item, "delay_ms", 0) or 0,
            _kind(item.get("kind", FaultKind.RESPONSE.value)),
            _count(item, "after_bytes", None),
            max(1, _count(item, "chunk_bytes", 1) or 1),
            _count(item, "interval_ms", 100) or 0,
        )

    @property
    def transport_fault(self) -> TransportFault | None:
        if self.kind is FaultKind.RESPONSE:
            return None
        return TransportFault(self.kind, self.after_bytes, self.chunk_bytes, self.interval_ms)

    def to_response(self) -> EmulatorResponse:
        assert self.status is not None
        headers = dict(self.headers)
        if not any(name.lower() == "content-type" for name in headers):
            looks_json = self.body.lstrip().startswith(("{", "["))
            headers["Content-Type"] = (
                "application/json; charset=utf-8" if looks_json else "text/plain; charset=utf-8"
            )
        return EmulatorResponse(
            self.status, self.body.encode("utf-8"), headers, self.transport_fault
        )

    def deliver(self, served: EmulatorResponse) -> EmulatorResponse:
        """`served` (the normal answer) carrying this entry's transport fault, if any."""
        return replace(served, fault=self.transport_fault)


def _kind(value: Any) -> FaultKind:
    try:
        return FaultKind(value)
    except ValueError:
        known = [kind.value for kind in FaultKind]
        raise ValueError(f"'kind' must be one of {known}, not {value!r}") from None


def _count(item: Mapping[str, Any], name: str, default: int | None) -> int | None:
    value = item.get(name, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"'{name}' must be a non-negative number")
    return int(value)


class FaultPlan:
    """Scripted responses per endpoint name, consumed in order; then normal service resumes."""

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._sleep = sleep
        self._lock = threading.Lock()
        self._queues: defaultdict[str, deque[ScriptedResponse]] = defaultdict(deque)

    def inject(self, endpoint: str, responses: Sequence[ScriptedResponse]) -> None:
        with self._lock:
            self._queues[endpoint].extend(responses)

    def take(self, endpoint: str) -> EmulatorResponse | None:
        """The next scripted response for `endpoint`, or None to serve normally.

        Applies the scripted `delay_ms` (by sleeping in the calling thread) before returning.
        """
        scripted = self.next(endpoint)
        return None if scripted is None or scripted.status is None else scripted.to_response()

    def next(self, endpoint: str) -> ScriptedResponse | None:
        """The next scripted entry for `endpoint` (after its `delay_ms`), or None."""
        with self._lock:
            queue = self._queues.get(endpoint)
            scripted = queue.popleft() if queue else None
        if scripted is not None and scripted.delay_ms:
            self._sleep(scripted.delay_ms / 1000)
        return scripted

    def pending(self) -> dict[str, int]:
        with self._lock:
            return {name: len(queue) for name, queue in self._queues.items() if queue}

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()
