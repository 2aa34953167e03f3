"""Azure IMDS v1 (`/metadata/identity/oauth2/token`) and the managed identity token wire format.

Wire rules: wire-protocol §4.2. The token answer shape (string-valued expiries, `expires_on`
absolute or relative) is shared by every managed identity source, so its parser lives here and
`mi_sources` reuses it.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias
from urllib.parse import urlencode

from identity_web._errors import ManagedIdentityError, ServiceError
from identity_web.protocol._http import HttpRequest, HttpResponse, RetryPolicy
from identity_web.protocol._tokens import TokenResponse, TokenType
from identity_web.protocol.steps import Step

DEFAULT_IMDS_HOST = "http://169.254.169.254"
IMDS_HOST_VARIABLE = "AZURE_POD_IDENTITY_AUTHORITY_HOST"
IMDS_TOKEN_PATH = "/metadata/identity/oauth2/token"  # noqa: S105 - a URL path, not a secret
IMDS_API_VERSION = "2018-02-01"

ABSOLUTE_EPOCH_THRESHOLD = 978307200
"""2001-01-01: numeric expiries at or above this are absolute epochs, below are relative."""

IMDS_TIMEOUT = 10.0
"""Seconds per IMDS request: IMDS is link-local, but a token may take it a few seconds."""

PROACTIVE_REFRESH_AFTER = 7200.0
"""Tokens living longer than two hours get `refresh_on` at half their lifetime."""

MAX_ERROR_BODY = 512

if TYPE_CHECKING:
    from identity_web.settings import ManagedIdentityOptions

SelectorKind = Literal["system", "client_id", "object_id", "resource_id"]


@dataclass(frozen=True, slots=True)
class ManagedIdentityId:
    """Which managed identity to ask for: the system-assigned one, or one user-assigned
    selector. The one identity type of the package; the settings model
    (`settings.ManagedIdentityOptions`) is how users write it, `of()` turns it into this."""

    kind: SelectorKind = "system"
    value: str = ""

    @classmethod
    def of(cls, choice: ManagedIdentityChoice) -> ManagedIdentityId:
        """`choice` as an id: an id as it is; settings (or None) as `from_options` reads them."""
        return choice if isinstance(choice, ManagedIdentityId) else cls.from_options(choice)

    @classmethod
    def from_options(cls, options: ManagedIdentityOptions | None) -> ManagedIdentityId:
        """`{}`/None → system-assigned; exactly one selector otherwise."""
        if options is None:
            return cls()
        return cls.selected(
            client_id=options.user_assigned_client_id,
            object_id=options.user_assigned_object_id,
            resource_id=options.user_assigned_resource_id,
        )

    @classmethod
    def selected(
        cls,
        *,
        client_id: str | None = None,
        object_id: str | None = None,
        resource_id: str | None = None,
    ) -> ManagedIdentityId:
        """At most one selector (none: system-assigned). A client id that looks like an ARM
        path (`/subscriptions/...`) is a resource id, as in Identity.Web."""
        given = [
            (kind, value.strip())
            for kind, value in (
                ("client_id", client_id),
                ("object_id", object_id),
                ("resource_id", resource_id),
            )
            if value and value.strip()
        ]
        if len(given) > 1:
            names = ", ".join(f"UserAssigned{_PASCAL[kind]}" for kind, _ in given)
            raise ManagedIdentityError(
                f"ManagedIdentity selects a user-assigned identity by {names}: give exactly one "
                "of UserAssignedClientId, UserAssignedObjectId or UserAssignedResourceId "
                "(or none for the system-assigned identity)."
            )
        if not given:
            return cls()
        kind, value = given[0]
        if kind == "client_id" and value.lower().startswith("/subscriptions/"):
            kind = "resource_id"
        return cls(kind, value)  # type: ignore[arg-type]

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    @property
    def cache_key(self) -> str:
        if self.is_system:
            return "system"
        value = self.value.lower() if self.kind == "resource_id" else self.value
        return f"{self.kind}:{value}"

    def describe(self) -> str:
        """For error messages: `the system-assigned identity` / `user-assigned client_id=…`."""
        if self.is_system:
            return "the system-assigned identity"
        return f"the user-assigned identity {self.kind}={self.value}"

    def query(self, resource_id_name: str) -> dict[str, str]:
        """The selector as query parameters; the resource id name differs per endpoint."""
        if self.is_system:
            return {}
        name = resource_id_name if self.kind == "resource_id" else self.kind
        return {name: self.value}


_PASCAL = {"client_id": "ClientId", "object_id": "ObjectId", "resource_id": "ResourceId"}

ManagedIdentityChoice: TypeAlias = "ManagedIdentityId | ManagedIdentityOptions | None"
"""A managed identity as code gives it: an id, the settings model, or None (system-assigned)."""


def imds_base(environ: Mapping[str, str]) -> str:
    """The IMDS base URL: `AZURE_POD_IDENTITY_AUTHORITY_HOST` or `http://169.254.169.254`."""
    host = environ.get(IMDS_HOST_VARIABLE, "").strip() or DEFAULT_IMDS_HOST
    if "://" not in host:
        host = "http://" + host
    return host.rstrip("/")


def resource_from_scope(scope: str) -> str:
    """Managed identity endpoints take a resource, not a scope: drop a trailing `/.default`."""
    scope = scope.strip()
    if scope.endswith("/.default"):
        return scope[: -len("/.default")]
    return scope


def request_id_headers() -> dict[str, str]:
    return {"x-ms-client-request-id": str(uuid.uuid4())}


def imds_token_request(
    base: str, resource: str, identity: ManagedIdentityId, retry: RetryPolicy | None
) -> HttpRequest:
    """GET `{base}/metadata/identity/oauth2/token` with `Metadata: true` (§4.2)."""
    params = {"api-version": IMDS_API_VERSION, "resource": resource}
    params |= identity.query("msi_res_id")
    return HttpRequest(
        "GET",
        f"{base}{IMDS_TOKEN_PATH}?{urlencode(params)}",
        headers={"Metadata": "true", **request_id_headers()},
        retry=retry,
        timeout=IMDS_TIMEOUT,
        direct=True,
    )


PROBE_RESOURCE = "https://management.azure.com"


def imds_probe_request(base: str, timeout: float) -> HttpRequest:
    """The v1 token GET *without* `Metadata: true`: any IMDS answers 400, so 400 = present."""
    params = {"api-version": IMDS_API_VERSION, "resource": PROBE_RESOURCE}
    return HttpRequest(
        "GET",
        f"{base}{IMDS_TOKEN_PATH}?{urlencode(params)}",
        headers=request_id_headers(),
        timeout=timeout,
        direct=True,
    )


def imds_v1_flow(
    base: str, resource: str, identity: ManagedIdentityId, *, now: float, retry: RetryPolicy | None
) -> Step[TokenResponse]:
    """One IMDS v1 Bearer token (retries are the request's policy, applied by the driver)."""
    response = yield imds_token_request(base, resource, identity, retry)
    if response.status != 200:
        raise imds_error(response, identity)
    return parse_managed_identity_token(response, now=now, endpoint=f"{base}{IMDS_TOKEN_PATH}")


def parse_expiry(value: Any, now: float) -> float | None:
    """An MI expiry as an absolute epoch (MSAL.NET rule).

    Numbers (or numeric strings) ≥ 978307200 are absolute, smaller ones relative to `now`;
    ISO-8601 and `MM/DD/YYYY HH:MM:SS +00:00` strings (Azure ML) are accepted too.
    """
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float) else float(str(value).strip())
    except OverflowError:  # an integer beyond float range: no usable expiry
        return None
    except ValueError:
        return _parse_date(str(value).strip())
    if not math.isfinite(number):
        return None
    return number if number >= ABSOLUTE_EPOCH_THRESHOLD else now + number


def _parse_date(text: str) -> float | None:
    for parse in (datetime.fromisoformat, _parse_ml_date):
        try:
            moment = parse(text)
        except ValueError:
            continue
        return moment.timestamp() if moment.tzinfo else None
    return None


def _parse_ml_date(text: str) -> datetime:
    return datetime.strptime(text, "%m/%d/%Y %H:%M:%S %z")


def refresh_on_for(expires_on: float, now: float) -> float | None:
    """Half the lifetime when the token lives longer than two hours, else None."""
    lifetime = expires_on - now
    return now + lifetime / 2 if lifetime > PROACTIVE_REFRESH_AFTER else None


def parse_managed_identity_token(
    response: HttpResponse, *, now: float, endpoint: str
) -> TokenResponse:
    """A 200 answer of any MI source: `access_token` plus `expires_on` or `expires_in`."""
    body = response.json_object()
    token = body.get("access_token") if body else None
    expires_on = None
    if body:
        expires_on = parse_expiry(body.get("expires_on"), now)
        if expires_on is None:
            expires_on = parse_expiry(body.get("expires_in"), now)
    if not isinstance(token, str) or not token or expires_on is None:
        raise ManagedIdentityError(
            f"The managed identity endpoint {endpoint} answered 200 without a usable "
            "access_token and expires_on/expires_in; this host's identity endpoint is not "
            "speaking the managed identity protocol."
        )
    token_type = body.get("token_type") if body else None
    return TokenResponse(
        access_token=token,
        token_type=TokenType.from_wire(token_type) or TokenType.BEARER,
        expires_on=expires_on,
        refresh_on=refresh_on_for(expires_on, now),
        correlation_id=response.header("x-ms-request-id"),
        token_endpoint=endpoint,
    )


def body_excerpt(response: HttpResponse) -> str:
    text = response.text.strip()
    return text if len(text) <= MAX_ERROR_BODY else text[:MAX_ERROR_BODY] + "... (truncated)"


def relayed_service_error(response: HttpResponse, endpoint: str) -> ServiceError | None:
    """An ESTS error relayed by the endpoint (it names AADSTS codes), else None."""
    body = response.json_object()
    if not body or not isinstance(body.get("error"), str):
        return None
    description = str(body.get("error_description") or "")
    listed = body.get("error_codes")
    codes = [c for c in listed if isinstance(c, int)] if isinstance(listed, list) else []
    if not codes and "AADSTS" not in description:
        return None
    return ServiceError(
        status=response.status,
        error=body["error"],
        error_description=description,
        error_codes=codes,
        correlation_id=str(body.get("correlation_id") or ""),
        trace_id=str(body.get("trace_id") or ""),
        endpoint=endpoint,
    )


def error_summary(response: HttpResponse) -> str:
    """`error: description` from any MI error shape, else the (bounded) body."""
    body = response.json_object()
    if body:
        error = body.get("error")
        if isinstance(error, dict):  # Cloud Shell / Service Fabric: {"error": {"code", "message"}}
            return f"{error.get('code', '')}: {error.get('message', '')}"
        if isinstance(error, str):
            return f"{error}: {body.get('error_description', '')}"
        if "message" in body:  # App Service: {"statusCode", "message", "correlationId"}
            return str(body["message"])
    return body_excerpt(response) or "(empty body)"


def imds_error(response: HttpResponse, identity: ManagedIdentityId) -> Exception:
    """The error for a non-200 IMDS answer (after the retry policy gave up)."""
    endpoint = response.url or "IMDS"
    relayed = relayed_service_error(response, endpoint)
    if relayed is not None:
        return relayed
    detail = error_summary(response)
    if response.status == 400:
        return ManagedIdentityError(
            f"IMDS refused the token request for {identity.describe()} (HTTP 400, {detail}). "
            "Either the requested identity has not been assigned to this resource or no "
            "identity is assigned: check UserAssignedClientId/ObjectId/ResourceId in "
            "AcquireTokenOptions.ManagedIdentity, or assign the identity to the VM."
        )
    if response.status in (502, 504):
        return ManagedIdentityError(
            f"IMDS answered HTTP {response.status} (gateway error) for {identity.describe()}: "
            f"{detail}. IMDS could not reach Entra ID; retry later."
        )
    return ManagedIdentityError(
        f"IMDS answered HTTP {response.status} for {identity.describe()}: {detail}"
    )


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
