"""Explaining a refused federated identity credential (leg 2 of FIC).

When the token endpoint answers that no federated identity credential matches the assertion
(AADSTS70021, 700211, 700212, 700213), the useful facts are what the assertion claimed: its
issuer, subject and audience. They are read here without verifying anything (the assertion is
ours, and only these three claims are shown, never the assertion).
"""

from __future__ import annotations

from typing import Any

from identity_web._errors import FederatedCredentialError, ServiceError
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
