"""The admin API under `/_emulator/`: request log and fault injection (CONTRACTS.md)."""

from __future__ import annotations

from typing import Any

from identity_web.emulator._recording import ScriptedResponse
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse

_ROUTES = {
    "GET /_emulator/requests": "the request log (JSON array); ?endpoint=NAME filters",
    "DELETE /_emulator/requests": "clear the request log",
    "GET /_emulator/faults": "scripted responses still pending, per endpoint",
    "POST /_emulator/faults": '{"endpoint": NAME, "responses": [{"status", "headers", '
    '"body", "delay_ms"}]}',
    "DELETE /_emulator/faults": "drop every scripted response",
}


def _problem(status: int, message: str) -> EmulatorResponse:
    return EmulatorResponse.json(status, {"error": "invalid_request", "error_description": message})


class AdminService:
    """Requests to the admin API are not themselves logged."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        route = f"{request.method} {request.path.rstrip('/')}"
        handlers = {
            "GET /_emulator/requests": self._requests,
            "DELETE /_emulator/requests": self._clear_requests,
            "GET /_emulator/faults": self._pending,
            "POST /_emulator/faults": self._inject,
            "DELETE /_emulator/faults": self._clear_faults,
            "GET /_emulator": self._index,
        }
        handler = handlers.get(route)
        if handler is None:
            return _problem(404, f"unknown admin route {route}; known: {sorted(_ROUTES)}")
        return handler(request)

    def _requests(self, request: EmulatorRequest) -> EmulatorResponse:
        endpoint = request.query.get("endpoint") or None
        return EmulatorResponse.json(200, self._state.request_log.entries(endpoint))

    def _clear_requests(self, request: EmulatorRequest) -> EmulatorResponse:
        self._state.request_log.clear()
        return EmulatorResponse(204)

    def _pending(self, request: EmulatorRequest) -> EmulatorResponse:
        return EmulatorResponse.json(200, self._state.faults.pending())

    def _clear_faults(self, request: EmulatorRequest) -> EmulatorResponse:
        self._state.faults.clear()
        return EmulatorResponse(204)

    def _index(self, request: EmulatorRequest) -> EmulatorResponse:
        endpoints = sorted(self._state.fault_endpoints)
        return EmulatorResponse.json(200, {"routes": _ROUTES, "endpoints": endpoints})

    def _inject(self, request: EmulatorRequest) -> EmulatorResponse:
        try:
            payload = request.json()
        except ValueError:
            return _problem(400, "the body must be a JSON object")
        try:
            endpoint, responses = self._parse(payload)
        except ValueError as error:
            return _problem(400, str(error))
        self._state.faults.inject(endpoint, responses)
        return EmulatorResponse.json(200, {"pending": self._state.faults.pending()})

    def _parse(self, payload: Any) -> tuple[str, list[ScriptedResponse]]:
        if not isinstance(payload, dict):
            raise ValueError("the body must be a JSON object")
        endpoint = payload.get("endpoint")
        known = self._state.fault_endpoints
        if endpoint not in known:
            raise ValueError(f"unknown endpoint {endpoint!r}; known: {sorted(known)}")
        items = payload.get("responses")
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise ValueError("'responses' must be a list of objects")
        return str(endpoint), [ScriptedResponse.from_json(item) for item in items]
