"""Pieces every emulated IMDS endpoint shares: the Server header, error shapes, the selector."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from identity_web.emulator._directory import ManagedIdentity
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse

SERVER_HEADER = {"Server": "IMDS/150.870.65.1854"}
Handler = Callable[[EmulatorRequest], EmulatorResponse]


def imds_json(status: int, payload: Any) -> EmulatorResponse:
    return EmulatorResponse.json(status, payload, SERVER_HEADER)


def invalid_request(description: str, status: int = 400) -> EmulatorResponse:
    return imds_json(status, {"error": "invalid_request", "error_description": description})


def ests_error(
    state: EmulatorState, error: str, code: int, description: str, status: int = 400
) -> EmulatorResponse:
    """An Entra error relayed by IMDS (wire-protocol §1.5 shape)."""
    correlation = str(uuid.uuid4())
    timestamp = _timestamp(state.clock.now())
    return imds_json(
        status,
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {uuid.uuid4()} "
            f"Correlation ID: {correlation} Timestamp: {timestamp}",
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": str(uuid.uuid4()),
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
    )


def _timestamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


SELECTOR_PARAMETERS = ("client_id", "object_id", "msi_res_id", "mi_res_id")


def select_identity(
    state: EmulatorState, query: Mapping[str, str]
) -> ManagedIdentity | EmulatorResponse:
    """The identity the query selects (none → system-assigned), or the 400 IMDS answers."""
    given = {name: query[name] for name in SELECTOR_PARAMETERS if query.get(name)}
    if len(given) > 1:
        return invalid_request("Only one of client_id, object_id or msi_res_id may be specified")
    identity = state.find_managed_identity(
        client_id=given.get("client_id"),
        object_id=given.get("object_id"),
        resource_id=given.get("msi_res_id") or given.get("mi_res_id"),
    )
    if identity is None:
        return invalid_request("Identity not found")
    return identity
