"""Entra (ESTS) error responses: every AADSTS code the emulator answers with, in one place.

Codes marked `chosen=True` are the emulator's own choice where the wire specification has no
real code (wire-protocol.md §10); they live in the 99000xx range so nobody mistakes them for
real ESTS codes, and docs/emulator.md lists them. Change them here and there only.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse


@dataclass(frozen=True, slots=True)
class Aadsts:
    """One ESTS error: AADSTS code, HTTP status, OAuth `error`, and a message template."""

    code: int
    status: int
    error: str
    template: str
    chosen: bool = False

    def fail(self, **values: str) -> TokenRequestError:
        """The exception a token request raises to answer with this error."""
        return TokenRequestError(self, self.template.format(**values))


class TokenRequestError(Exception):
    """Raised inside the token service; turned into an ESTS error body by `error_response`."""

    def __init__(self, spec: Aadsts, message: str) -> None:
        self.spec = spec
        self.message = message
        super().__init__(f"AADSTS{spec.code}: {message}")


MISSING_PARAMETER = Aadsts(
    900144,
    400,
    "invalid_request",
    "The request body must contain the following parameter: '{name}'.",
)
POST_REQUIRED = Aadsts(900561, 400, "invalid_request", "The endpoint only accepts POST requests.")
UNSUPPORTED_GRANT = Aadsts(
    70003,
    400,
    "unsupported_grant_type",
    "The app requested an unsupported grant type '{grant_type}'.",
)
NO_TENANT = Aadsts(
    50059,
    400,
    "invalid_request",
    "No tenant-identifying information found in either the request or implied by any provided "
    "credentials. Client credentials need a tenanted authority; '{tenant}' is not a tenant.",
)
TENANT_NOT_FOUND = Aadsts(
    90002,
    400,
    "invalid_request",
    "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
    "signing into the correct cloud.",
)
UNKNOWN_CLIENT = Aadsts(
    700016,
    400,
    "unauthorized_client",
    "Application with identifier '{client_id}' was not found in the directory '{tenant}'. This "
    "can happen if the application has not been installed by the administrator of the tenant or "
    "consented to by any user in the tenant. You may have sent your authentication request to "
    "the wrong tenant.",
)
INVALID_SECRET = Aadsts(
    7000215,
    401,
    "invalid_client",
    "Invalid client secret provided. Ensure the secret being sent in the request is the client "
    "secret value, not the client secret ID, for a secret added to app '{client_id}'.",
)
MISSING_CLIENT_AUTH = Aadsts(
    7000218,
    400,
    "invalid_client",
    "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
)
UNKNOWN_KEY = Aadsts(
    700027,
    401,
    "invalid_client",
    "The certificate with identifier used to sign the client assertion is not registered on "
    "application. [Reason - The key was not found., Thumbprint of key used by client: "
    "'{thumbprint}', Configured keys for app id '{client_id}' are listed in the app "
    "registration.]",
)
BAD_SIGNATURE = Aadsts(
    700027, 401, "invalid_client", "Client assertion failed signature validation."
)
CERTIFICATE_NOT_REGISTERED = Aadsts(
    700027,
    401,
    "invalid_client",
    "The TLS client certificate '{thumbprint}' is not registered on application '{client_id}' "
    "and does not match a registered subject name and issuer.",
)
ASSERTION_EXPIRED = Aadsts(
    700024,
    400,
    "invalid_client",
    "Client assertion is not within its valid time range. Current time: {now}, assertion valid "
    "from {nbf}, expiry time of assertion {exp}.",
)
ASSERTION_MALFORMED = Aadsts(
    50027, 400, "invalid_request", "JWT token is invalid or malformed. {detail}"
)
ASSERTION_WRONG_AUDIENCE = Aadsts(
    700023,
    401,
    "invalid_client",
    "Client assertion audience claim does not match Realm issuer. Audience '{audience}'; "
    "expected the token endpoint '{expected}'.",
)
ASSERTION_WRONG_CLIENT = Aadsts(
    700021,
    401,
    "invalid_client",
    "Client assertion application identifier doesn't match 'client_id' parameter.",
)
SCOPE_NOT_DEFAULT = Aadsts(
    1002012,
    400,
    "invalid_scope",
    "The provided value for scope {scope} is not valid. Client credential flows must have a "
    "scope value with /.default suffixed to the resource identifier (application ID URI).",
)
SCOPE_INVALID = Aadsts(
    70011,
    400,
    "invalid_scope",
    "The provided request must include a 'scope' input parameter. The provided value for the "
    "input parameter 'scope' is not valid. The scope {scope} is not valid.",
)
UNKNOWN_RESOURCE = Aadsts(
    500011,
    400,
    "invalid_resource",
    "The resource principal named {resource} was not found in the tenant named {tenant}. This "
    "can happen if the application has not been installed by the administrator of the tenant or "
    "consented to by any user in the tenant. You might have sent your authentication request to "
    "the wrong tenant.",
)
BOUND_TOKENS_NOT_SUPPORTED = Aadsts(
    392196,
    400,
    "invalid_request",  # the real `error` value is unknown (wire-protocol.md §10)
    "The resource application does not support certificate-bound token. Resource '{resource}'.",
)
FIC_NO_MATCH = Aadsts(
    70021,
    400,
    "invalid_request",
    "No matching federated identity record found for presented assertion. {detail}",
)
FIC_ISSUER_MISMATCH = Aadsts(
    700211,
    400,
    "invalid_request",
    "No matching federated identity record found for presented assertion issuer '{issuer}'.",
)
FIC_AUDIENCE_MISMATCH = Aadsts(
    700212,
    400,
    "invalid_request",
    "No matching federated identity record found for presented assertion audience '{audience}'.",
)
FIC_SUBJECT_MISMATCH = Aadsts(
    700213,
    400,
    "invalid_request",
    "No matching federated identity record found for presented assertion subject '{subject}'.",
)

MTLS_CLIENT_AUTH_DISABLED = Aadsts(
    51000,
    400,
    "invalid_request",  # the real status and `error` value are not in the reference
    "The requested feature(s) MtlsClientAuth is/are disabled for application '{client_id}'.",
)
CERTIFICATE_OUTSIDE_VALIDITY = Aadsts(
    1000502,
    401,
    "invalid_client",
    "The certificate '{thumbprint}' used to sign the client assertion is outside its validity "
    "window (valid from {not_before} to {not_after}).",
)

# --- the emulator's own choices (no real code known) ------------------------------------------
MTLS_POP_ON_LOGIN_HOST = Aadsts(
    9900001,
    400,
    "invalid_request",
    "token_type 'mtls_pop' can only be requested from the mTLS token endpoint "
    "(mtls_endpoint_aliases.token_endpoint of the OpenID configuration): {mtls_endpoint}",
    chosen=True,
)
CLIENT_CERTIFICATE_REQUIRED = Aadsts(
    9900002,
    401,
    "invalid_client",
    "A TLS client certificate is required on the mTLS token endpoint for {purpose}; none was "
    "presented.",
    chosen=True,
)
CREDENTIAL_NOT_ALLOWED_FOR_POP = Aadsts(
    9900003,
    400,
    "invalid_request",
    "token_type 'mtls_pop' binds the token to the TLS client certificate, which also "
    "authenticates the client: remove '{parameter}', or send a "
    "'urn:ietf:params:oauth:client-assertion-type:jwt-pop' assertion.",
    chosen=True,
)
ASSERTION_CNF_MISMATCH = Aadsts(
    9900004,
    401,
    "invalid_client",
    "The client assertion is bound to certificate '{expected}' (cnf x5t#S256) but the TLS client "
    "certificate presented is '{actual}'.",
    chosen=True,
)
ASSERTION_NOT_FROM_TLS_CERTIFICATE = Aadsts(
    9900005,
    401,
    "invalid_client",
    "The client assertion is signed with certificate '{signer}' but the TLS client certificate "
    "presented is '{presented}': on the mTLS token endpoint the assertion must be signed by, and "
    "name, the certificate presented at TLS.",
    chosen=True,
)

ALL = (
    MISSING_PARAMETER,
    POST_REQUIRED,
    UNSUPPORTED_GRANT,
    NO_TENANT,
    TENANT_NOT_FOUND,
    UNKNOWN_CLIENT,
    INVALID_SECRET,
    MISSING_CLIENT_AUTH,
    UNKNOWN_KEY,
    BAD_SIGNATURE,
    CERTIFICATE_NOT_REGISTERED,
    ASSERTION_EXPIRED,
    ASSERTION_MALFORMED,
    ASSERTION_WRONG_AUDIENCE,
    ASSERTION_WRONG_CLIENT,
    SCOPE_NOT_DEFAULT,
    SCOPE_INVALID,
    UNKNOWN_RESOURCE,
    BOUND_TOKENS_NOT_SUPPORTED,
    FIC_NO_MATCH,
    FIC_ISSUER_MISMATCH,
    FIC_AUDIENCE_MISMATCH,
    FIC_SUBJECT_MISMATCH,
    MTLS_CLIENT_AUTH_DISABLED,
    CERTIFICATE_OUTSIDE_VALIDITY,
    MTLS_POP_ON_LOGIN_HOST,
    CLIENT_CERTIFICATE_REQUIRED,
    CREDENTIAL_NOT_ALLOWED_FOR_POP,
    ASSERTION_CNF_MISMATCH,
    ASSERTION_NOT_FROM_TLS_CERTIFICATE,
)


def timestamp(now: float) -> str:
    """ESTS timestamp format: `2019-07-12 19:24:42Z`."""
    return time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime(now))


def correlation_id(request: EmulatorRequest) -> str:
    return request.header("client-request-id") or str(uuid.uuid4())


def response_headers(request: EmulatorRequest, trace_id: str) -> dict[str, str]:
    """Headers of every token-endpoint answer; echoes `client-request-id` when asked to."""
    headers = {
        "Cache-Control": "no-store, no-cache",
        "Pragma": "no-cache",
        "x-ms-request-id": trace_id,
    }
    requested = request.header("client-request-id")
    if requested and request.header("return-client-request-id").lower() == "true":
        headers["client-request-id"] = requested
    return headers


def error_response(
    failure: TokenRequestError, request: EmulatorRequest, *, now: float, error_uri_base: str
) -> EmulatorResponse:
    """The ESTS error body (wire-protocol.md §1.5) for `failure`."""
    trace_id = str(uuid.uuid4())
    correlation = correlation_id(request)
    stamp = timestamp(now)
    code = failure.spec.code
    description = (
        f"AADSTS{code}: {failure.message}\r\nTrace ID: {trace_id}\r\n"
        f"Correlation ID: {correlation}\r\nTimestamp: {stamp}"
    )
    body = {
        "error": failure.spec.error,
        "error_description": description,
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation,
        "error_uri": f"{error_uri_base}error?code={code}",
    }
    return EmulatorResponse.json(failure.spec.status, body, response_headers(request, trace_id))
