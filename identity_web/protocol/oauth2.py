"""OAuth 2.0 client credentials grant (RFC 6749 §4.4) as Entra ID speaks it, without I/O.

`build_token_request` turns a `ClientCredentialsRequest` into an `HttpRequest`;
`parse_token_response` turns the answer into a `TokenResponse` or raises a `ServiceError`;
`client_credentials_flow` does both as a flow. Nothing here reads the clock: `now` comes in.

`client_info` is deliberately not sent: app tokens carry no account, so the field has no use
(Go MSAL does the same; .NET sends `client_info=2`, Python MSAL `client_info=1`).
"""

from __future__ import annotations

import json
import math
import re
import sys
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any
from urllib.parse import urlencode, urlsplit

from identity_web._errors import ServiceError, TokenAcquisitionError, TokenTypeMismatchError
from identity_web.protocol._binding import BindingCertificate
from identity_web.protocol._http import HttpRequest, HttpResponse, RetryPolicy
from identity_web.protocol._tokens import TokenResponse, TokenType
from identity_web.protocol.retry import sts_policy
from identity_web.protocol.steps import Step

TOKEN_TYPE_BEARER = TokenType.BEARER
TOKEN_TYPE_MTLS_POP = TokenType.MTLS_POP
GRANT_CLIENT_CREDENTIALS = "client_credentials"
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

try:
    _VERSION = metadata.version("identity-web")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    _VERSION = "0.0.0"

#: Headers sent on every request to the token service (wire-protocol §1.4).
LIBRARY_HEADERS: Mapping[str, str] = {
    "x-client-SKU": "identity-web.python",
    "x-client-Ver": _VERSION,
    "x-client-OS": sys.platform,
    "x-ms-lib-capability": "retry-after, h429",
}

_AADSTS = re.compile(r"AADSTS(\d+)")


#: ESTS retry rule (wire-protocol §4.3): one retry after 1 s on a 5xx without `Retry-After`.
#: `retry.sts_policy(scale)` gives the same rule with scaled delays (tests).
STS_RETRY: RetryPolicy = sts_policy()


@dataclass(frozen=True, slots=True)
class ClientCredentialsRequest:
    """Everything one client-credentials token request needs. Secrets stay out of the repr.

    Client authentication is one of: `client_secret`; `client_assertion` (+ its type); or
    neither, when the TLS client certificate (`tls_identity`) authenticates the client
    (mTLS PoP with a certificate, RFC 8705 §2). `token_type="mtls_pop"` asks for a bound token.
    """

    token_endpoint: str
    client_id: str
    scope: str
    client_secret: str | None = field(default=None, repr=False)
    client_assertion: str | None = field(default=None, repr=False)
    client_assertion_type: str | None = None
    token_type: str | None = None
    tls_identity: BindingCertificate | None = None
    claims: str | None = None
    client_capabilities: tuple[str, ...] = ()
    extra_query_parameters: tuple[tuple[str, str], ...] = ()
    extra_headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)  # may hold keys
    correlation_id: str = ""

    @property
    def wants_bound_token(self) -> bool:
        return TokenType.from_wire(self.token_type) is TokenType.MTLS_POP

    @property
    def url(self) -> str:
        """The token endpoint with the extra query parameters appended."""
        if not self.extra_query_parameters:
            return self.token_endpoint
        sep = "&" if urlsplit(self.token_endpoint).query else "?"
        return f"{self.token_endpoint}{sep}{urlencode(self.extra_query_parameters)}"


def merge_claims(claims: str | None, capabilities: Sequence[str]) -> str | None:
    """Merge a claims challenge with client capabilities (`xms_cc`), as MSAL does.

    Returns the JSON string to send, or None when there is nothing to send.
    """
    if not claims and not capabilities:
        return None
    merged: dict[str, Any] = {}
    if claims:
        try:
            parsed = json.loads(claims)
        except ValueError as exc:
            raise TokenAcquisitionError(
                "The claims value is not valid JSON; pass the claims challenge exactly as the "
                "resource returned it (the decoded 'claims' of WWW-Authenticate)."
            ) from exc
        if not isinstance(parsed, dict):
            raise TokenAcquisitionError("The claims value must be a JSON object.")
        merged = parsed
    if capabilities:
        access_token = merged.setdefault("access_token", {})
        if not isinstance(access_token, dict):
            raise TokenAcquisitionError("The claims value has a non-object 'access_token'.")
        access_token["xms_cc"] = {"values": list(capabilities)}
    return json.dumps(merged, separators=(",", ":"))


def token_request_form(request: ClientCredentialsRequest) -> dict[str, str]:
    """The urlencoded body fields, in the order MSAL sends them."""
    form = {
        "client_id": request.client_id,
        "grant_type": GRANT_CLIENT_CREDENTIALS,
        "scope": request.scope,
    }
    if request.client_secret is not None:
        form["client_secret"] = request.client_secret
    elif request.client_assertion is not None:
        if not request.client_assertion_type:
            raise ValueError("client_assertion needs a client_assertion_type")
        form["client_assertion_type"] = request.client_assertion_type
        form["client_assertion"] = request.client_assertion
    if request.token_type:
        form["token_type"] = request.token_type
    claims = merge_claims(request.claims, request.client_capabilities)
    if claims:
        form["claims"] = claims
    return form


def token_request_headers(request: ClientCredentialsRequest) -> dict[str, str]:
    headers = dict(request.extra_headers)
    headers.update(LIBRARY_HEADERS)
    headers["client-request-id"] = request.correlation_id or str(uuid.uuid4())
    headers["return-client-request-id"] = "true"
    headers["Content-Type"] = FORM_CONTENT_TYPE
    headers["Accept"] = "application/json"
    return headers


def build_token_request(
    request: ClientCredentialsRequest, *, retry: RetryPolicy | None = STS_RETRY
) -> HttpRequest:
    """The POST to the token endpoint. Only bound/mTLS requests carry a TLS identity."""
    if request.tls_identity is not None and urlsplit(request.token_endpoint).scheme != "https":
        raise TokenAcquisitionError(
            f"Refusing to present a client certificate to a non-HTTPS endpoint "
            f"({request.token_endpoint})."
        )
    if request.wants_bound_token and request.tls_identity is None:
        raise TokenAcquisitionError(
            "An mtls_pop token request must be sent with its binding certificate."
        )
    return HttpRequest(
        method="POST",
        url=request.url,
        headers=token_request_headers(request),
        form=token_request_form(request),
        tls_identity=request.tls_identity,
        retry=retry,
    )


def client_credentials_flow(
    request: ClientCredentialsRequest, *, now: float, retry: RetryPolicy | None = STS_RETRY
) -> Step[TokenResponse]:
    """Send the token request and parse the answer (fail closed on the token type)."""
    http_request = build_token_request(request, retry=retry)
    response = yield http_request
    return parse_token_response(
        response,
        now=now,
        requested_token_type=request.token_type,
        token_endpoint=request.token_endpoint,
        binding=request.tls_identity,
        correlation_id=http_request.headers["client-request-id"],
    )


# -- responses -------------------------------------------------------------------------------


def parse_token_response(
    response: HttpResponse,
    *,
    now: float,
    requested_token_type: str | None = None,
    token_endpoint: str = "",
    binding: BindingCertificate | None = None,
    correlation_id: str = "",
) -> TokenResponse:
    """A 2xx token answer → `TokenResponse`; anything else → `ServiceError`.

    Asked for `mtls_pop` and got another (or no) `token_type` → `TokenTypeMismatchError`;
    asked for Bearer and got `mtls_pop` → the same error (a bound token we could not send).
    """
    if not 200 <= response.status < 300:
        raise parse_error_response(response, endpoint=token_endpoint)
    payload = response.json_object()
    if payload is None:
        raise TokenAcquisitionError(
            f"The token endpoint {token_endpoint} answered HTTP {response.status} with a body "
            f"that is not a JSON object ({_describe_body(response)})."
        )
    access_token = payload.get("access_token")
    if not isinstance(access_token, str) or not access_token:
        if payload.get("error"):
            raise parse_error_response(response, endpoint=token_endpoint)
        raise TokenAcquisitionError(f"The token endpoint {token_endpoint} sent no access_token.")
    token_type = check_token_type(payload.get("token_type"), requested_token_type)
    expires_in = _seconds(payload, "expires_in", token_endpoint)
    if expires_in is None:
        raise TokenAcquisitionError(f"The token endpoint {token_endpoint} returned no expires_in.")
    refresh_in = _seconds(payload, "refresh_in", token_endpoint)
    bound = token_type is TokenType.MTLS_POP
    return TokenResponse(
        access_token=access_token,
        token_type=token_type,
        expires_on=now + expires_in,
        refresh_on=now + refresh_in if refresh_in is not None else None,
        binding_certificate=binding if bound else None,
        correlation_id=response.header("client-request-id") or correlation_id,
        token_endpoint=token_endpoint,
    )


def check_token_type(actual: object, requested: str | None) -> TokenType:
    """Normalize the returned `token_type` and fail closed when it is not what was asked.

    An absent `token_type` is Bearer (RFC 6749 servers may omit it); anything else unknown is
    refused."""
    wanted = TokenType.of(TokenType.from_wire(requested) is TokenType.MTLS_POP)
    got_text = actual.strip() if isinstance(actual, str) else ""
    got = TokenType.from_wire(got_text) if got_text else TokenType.BEARER
    if got is not wanted:
        raise TokenTypeMismatchError(wanted, got_text or None)
    return got


def parse_error_response(response: HttpResponse, *, endpoint: str = "") -> ServiceError:
    """An Entra error answer (wire-protocol §1.5) → `ServiceError`; odd bodies get a clear text."""
    payload = response.json_object()
    header_correlation = response.header("client-request-id")
    if payload is None or not payload.get("error"):
        return ServiceError(
            status=response.status,
            error="invalid_response" if 200 <= response.status < 300 else "http_error",
            error_description=(
                f"The identity provider did not send an OAuth error body "
                f"({_describe_body(response)})."
            ),
            correlation_id=header_correlation,
            endpoint=endpoint,
        )
    description = _text(payload.get("error_description"))
    return ServiceError(
        status=response.status,
        error=_text(payload.get("error")),
        error_description=description,
        error_codes=_error_codes(payload.get("error_codes"), description),
        correlation_id=_text(payload.get("correlation_id")) or header_correlation,
        trace_id=_text(payload.get("trace_id")),
        suberror=_text(payload.get("suberror")),
        claims=_claims_text(payload.get("claims")),
        endpoint=endpoint,
    )


def _describe_body(response: HttpResponse) -> str:
    content_type = response.header("content-type") or "no content type"
    snippet = response.text[:200].strip()
    shown = f": {snippet!r}" if snippet else ""
    return f"HTTP {response.status}, {content_type}, {len(response.body)} bytes{shown}"


def _seconds(payload: Mapping[str, Any], name: str, endpoint: str) -> float | None:
    """An int, float or numeric string of seconds (.NET mocks send strings)."""
    value = payload.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        value = None
    elif isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if not isinstance(value, int | float) or value < 0 or math.isnan(value):
        raise TokenAcquisitionError(
            f"The token endpoint {endpoint} returned an invalid {name}: expected seconds."
        )
    return float(value)


def _text(value: object) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def _claims_text(value: object) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return _text(value)


def _error_codes(value: object, description: str) -> tuple[int, ...]:
    codes: list[int] = []
    if isinstance(value, list):
        for item in value:
            try:
                codes.append(int(item))
            except (TypeError, ValueError):
                continue
    if not codes:
        codes = [int(code) for code in _AADSTS.findall(description)]
    return tuple(codes)
