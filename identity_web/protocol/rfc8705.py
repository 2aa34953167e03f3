"""OAuth 2.0 mutual-TLS certificate-bound access tokens (RFC 8705), as Entra ID implements them.

The token request carries `token_type=mtls_pop` and no `req_cnf`: the TLS client certificate
both authenticates the client (certificate credential: no `client_assertion` in the body) and
binds the token, whose `cnf` claim holds the certificate's `x5t#S256`.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

from identity_web._binding import BindingCertificate, x5t_s256
from identity_web.protocol.oauth2 import TOKEN_TYPE_MTLS_POP, ClientCredentialsRequest
from identity_web.protocol.rfc7523 import JWT_POP

__all__ = [
    "TOKEN_TYPE_MTLS_POP",
    "cnf_claim",
    "cnf_matches",
    "jwt_pop_request",
    "mtls_pop_request",
    "x5t_s256",
]


def cnf_claim(certificate: BindingCertificate) -> dict[str, str]:
    """The confirmation claim a token bound to `certificate` carries (RFC 8705 §3.1)."""
    return {"x5t#S256": certificate.x5t_s256}


def cnf_matches(claims: Mapping[str, object], certificate_der: bytes) -> bool:
    """True when the token claims' `cnf.x5t#S256` equals the thumbprint of this certificate."""
    cnf = claims.get("cnf")
    if not isinstance(cnf, Mapping):
        return False
    expected = cnf.get("x5t#S256")
    if not isinstance(expected, str):
        return False
    return hmac.compare_digest(expected.encode(), x5t_s256(certificate_der).encode())


def mtls_pop_request(
    *,
    token_endpoint: str,
    client_id: str,
    scope: str,
    certificate: BindingCertificate,
    correlation_id: str = "",
    claims: str | None = None,
    client_capabilities: tuple[str, ...] = (),
    extra_query_parameters: tuple[tuple[str, str], ...] = (),
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> ClientCredentialsRequest:
    """A bound-token request authenticated by the TLS certificate alone (no client_assertion)."""
    return ClientCredentialsRequest(
        token_endpoint=token_endpoint,
        client_id=client_id,
        scope=scope,
        token_type=TOKEN_TYPE_MTLS_POP,
        tls_identity=certificate,
        claims=claims,
        client_capabilities=client_capabilities,
        extra_query_parameters=extra_query_parameters,
        extra_headers=extra_headers,
        correlation_id=correlation_id,
    )


def jwt_pop_request(
    *,
    token_endpoint: str,
    client_id: str,
    scope: str,
    assertion: str,
    certificate: BindingCertificate,
    bound: bool,
    correlation_id: str = "",
    claims: str | None = None,
    client_capabilities: tuple[str, ...] = (),
    extra_query_parameters: tuple[tuple[str, str], ...] = (),
    extra_headers: tuple[tuple[str, str], ...] = (),
) -> ClientCredentialsRequest:
    """FIC leg 2 (wire-protocol §3.2/3.3): a bound assertion presented over its certificate.

    `bound` asks for an `mtls_pop` token; otherwise the answer is Bearer (bearer-over-mTLS).
    """
    return ClientCredentialsRequest(
        token_endpoint=token_endpoint,
        client_id=client_id,
        scope=scope,
        client_assertion=assertion,
        client_assertion_type=JWT_POP,
        token_type=TOKEN_TYPE_MTLS_POP if bound else None,
        tls_identity=certificate,
        claims=claims,
        client_capabilities=client_capabilities,
        extra_query_parameters=extra_query_parameters,
        extra_headers=extra_headers,
        correlation_id=correlation_id,
    )
