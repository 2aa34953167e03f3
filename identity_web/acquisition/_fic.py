"""Leg 2 of FIC refused: explaining a trust mismatch, renewing a rejected binding.

When the token endpoint answers that no federated identity credential matches the assertion
(AADSTS70021, 700211, 700212, 700213), the useful facts are what the assertion claimed: its
issuer, subject and audience. They are read here without verifying anything (the assertion is
ours, and only these three claims are shown, never the assertion).

When a bound leg 2 (`MTLS_POP`, or `UseBoundCredential`) is refused because of the binding
certificate — the managed identity client's own rule, `rejects_certificate`: TLS failed,
`invalid_client`, a certificate AADSTS code — `renewable_binding` names the assertion provider
that can start over with a new IMDS v2 certificate (and a new leg 1 over it). The acquisition
flow does that once, and sends leg 2 once more.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from identity_web._errors import FederatedCredentialError, NetworkError, ServiceError
from identity_web.credentials import AssertionCredential, LoadedCredential
from identity_web.managed_identity._client import rejects_certificate
from identity_web.protocol.oauth2 import ClientCredentialsRequest
from identity_web.protocol.rfc7523 import unverified_claims

FEDERATION_CODES = (70021, 700211, 700212, 700213)
_UNKNOWN = "(not in the assertion)"


def explain_federation_failure(
    error: ServiceError, request: ClientCredentialsRequest
) -> FederatedCredentialError | None:
    """A `FederatedCredentialError` naming the assertion's iss/sub/aud, or None when `error`
    is not a federated-credential mismatch for an assertion `request` carried."""
    if not request.client_assertion or not error.has_code(*FEDERATION_CODES):
        return None
    claims = unverified_claims(request.client_assertion)
    return FederatedCredentialError(
        error,
        issuer=_claim(claims, "iss"),
        subject=_claim(claims, "sub"),
        audience=_claim(claims, "aud"),
        client_id=request.client_id,
    )


def _claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if isinstance(value, list):
        return ", ".join(str(item) for item in value) or _UNKNOWN
    return str(value) if value not in (None, "") else _UNKNOWN


@runtime_checkable
class RenewableBinding(Protocol):
    """An assertion provider whose binding certificate can be replaced (the managed identity
    FIC provider: a new IMDS v2 certificate, then a new leg 1 over it)."""

    def renew_binding(self) -> None: ...


def renewable_binding(
    credential: LoadedCredential | None,
    request: ClientCredentialsRequest,
    error: ServiceError | NetworkError,
) -> RenewableBinding | None:
    """The provider to renew when `error` refused a bound leg 2 because of its certificate,
    else None (not FIC, not bound, a trust mismatch, or another refusal)."""
    if not isinstance(credential, AssertionCredential) or request.tls_identity is None:
        return None
    provider = credential.provider
    if not isinstance(provider, RenewableBinding):
        return None
    if isinstance(error, ServiceError) and error.has_code(*FEDERATION_CODES):
        return None
    return provider if rejects_certificate(error) else None
