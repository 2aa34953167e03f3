"""The admin API under `/_emulator/`: request log and fault injection (CONTRACTS.md)."""

from __future__ import annotations

from typing import Any

from identity_web.emulator._attestation import AttestationMode
from identity_web.emulator._directory import AppRegistration
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
    "GET /_emulator/settings": "run-time settings: attestation_mode, apps' mtls_client_auth",
    "PATCH /_emulator/settings": '{"attestation_mode": "required|optional|off", '
    '"mtls_client_auth": {CLIENT_ID: true|false}} (either or both)',
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
            "GET /_emulator/settings": self._settings,
            "PATCH /_emulator/settings": self._change_settings,
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

    def _settings(self, request: EmulatorRequest) -> EmulatorResponse:
        state = self._state
        apps = {app.client_id: app.mtls_client_auth_enabled for app in list(state.apps)}
        settings = {"attestation_mode": str(state.attestation_mode), "mtls_client_auth": apps}
        return EmulatorResponse.json(200, settings)

    def _change_settings(self, request: EmulatorRequest) -> EmulatorResponse:
        """Check every change first, then apply them all (none on a bad request)."""
        try:
            payload = request.json()
            mode, enrolments = self._parse_settings(payload)
        except ValueError as error:
            return _problem(400, str(error))
        if mode is not None:
            self._state.attestation_mode = mode
        for app, enabled in enrolments:
            app.mtls_client_auth_enabled = enabled
        return self._settings(request)

    def _parse_settings(
        self, payload: Any
    ) -> tuple[AttestationMode | None, list[tuple[AppRegistration, bool]]]:
        if not isinstance(payload, dict) or set(payload) - {"attestation_mode", "mtls_client_auth"}:
            raise ValueError("the body must be an object with attestation_mode, mtls_client_auth")
        mode = payload.get("attestation_mode")
        if mode is not None and mode not in {m.value for m in AttestationMode}:
            raise ValueError(
                f"attestation_mode must be one of {[m.value for m in AttestationMode]}"
            )
        changes = payload.get("mtls_client_auth") or {}
        if not isinstance(changes, dict):
            raise ValueError("mtls_client_auth must be an object {client_id: bool}")
        enrolments = []
        for client_id, enabled in changes.items():
            app = self._state.find_app(client_id)
            if app is None or not isinstance(enabled, bool):
                raise ValueError(f"mtls_client_auth: {client_id!r} must be a known app, to a bool")
            enrolments.append((app, enabled))
        return (AttestationMode(mode) if mode is not None else None), enrolments

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
