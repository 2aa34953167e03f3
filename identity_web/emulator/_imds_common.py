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
#: IMDS's published api-versions, oldest first (learn.microsoft.com, "Azure Instance Metadata
#: Service", supported API versions). `/identity` exists from 2018-02-01 on.
API_VERSIONS = (
    "2017-03-01", "2017-04-02", "2017-08-01", "2017-10-01", "2017-12-01", "2018-02-01",
    "2018-04-02", "2018-10-01", "2019-02-01", "2019-03-11", "2019-04-30", "2019-06-01",
    "2019-06-04", "2019-08-01", "2019-08-15", "2019-11-01", "2020-06-01", "2020-07-15",
    "2020-09-01", "2020-10-01", "2020-12-01", "2021-01-01", "2021-02-01", "2021-03-01",
    "2021-05-01", "2021-10-01", "2021-11-01", "2021-11-15", "2021-12-13", "2023-07-01",
)  # fmt: skip
IDENTITY_API_VERSIONS = API_VERSIONS[API_VERSIONS.index("2018-02-01") :]
CRED_API_VERSIONS = ("2.0",)
Handler = Callable[[EmulatorRequest], EmulatorResponse]


def imds_json(status: int, payload: Any) -> EmulatorResponse:
    return EmulatorResponse.json(status, payload, SERVER_HEADER)


def invalid_request(description: str, status: int = 400) -> EmulatorResponse:
    return imds_json(status, {"error": "invalid_request", "error_description": description})


def api_version_error(query: Mapping[str, str]) -> EmulatorResponse | None:
    """The 400 `/metadata/instance` answers a missing or unknown `api-version` with: IMDS's
    own shape, `error` text plus the newest versions (learn.microsoft.com IMDS "Errors")."""
    version = query.get("api-version")
    if version in API_VERSIONS:
        return None
    reason = "was not specified in the request" if not version else "is invalid"
    return imds_json(
        400,
        {
            "error": f"Bad request. api-version {reason}. For more information refer to "
            "aka.ms/azureimds",
            "newest-versions": list(reversed(API_VERSIONS[-3:])),
        },
    )


def version_error(
    query: Mapping[str, str], name: str, supported: tuple[str, ...]
) -> EmulatorResponse | None:
    """The 400 an identity endpoint answers a missing or unsupported version with."""
    version = query.get(name)
    if version in supported:
        return None
    if not version:
        return invalid_request(f"Required query variable '{name}' is missing")
    return invalid_request(
        f"Invalid {name} '{version}'. Supported versions: {', '.join(supported)}"
    )


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
