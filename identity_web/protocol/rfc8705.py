"""OAuth 2.0 mutual-TLS certificate-bound access tokens (RFC 8705), as Entra ID implements them.

The token request carries `token_type=mtls_pop` and no `req_cnf`: the TLS client certificate
both authenticates the client (certificate credential: no `client_assertion` in the body) and
binds the token, whose `cnf` claim holds the certificate's `x5t#S256`.
"""

from __future__ import annotations

from dataclasses import replace

from identity_web.protocol._binding import BindingCertificate, x5t_s256
from identity_web.protocol.oauth2 import TOKEN_TYPE_MTLS_POP, ClientCredentialsRequest
from identity_web.protocol.rfc7523 import JWT_POP, unverified_claims

__all__ = [
    "TOKEN_TYPE_MTLS_POP",
    "cnf_thumbprint",
    "jwt_pop_request",
    "mtls_pop_request",
    "over_mtls",
    "x5t_s256",
]


def cnf_thumbprint(access_token: str) -> str | None:
    """The `cnf.x5t#S256` of a readable JWT access token, `""` when that JWT has none, and
    None when the token is not a JWT we can read (opaque or encrypted).

    The claims are read without verifying the signature: the result is only ever used to
    *refuse* a token (fail closed), never to trust one; the resource verifies the binding.
    """
    claims = unverified_claims(access_token)
    if not claims:
        return None
    cnf = claims.get("cnf")
    thumbprint = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
    return thumbprint if isinstance(thumbprint, str) else ""


def mtls_pop_request(
    base: ClientCredentialsRequest, certificate: BindingCertificate
) -> ClientCredentialsRequest:
    """`base` as a bound-token request authenticated by the TLS certificate alone: no secret,
    no client assertion (RFC 8705 §2), `token_type=mtls_pop`, `certificate` presented on TLS."""
    return replace(
        base,
        client_secret=None,
        client_assertion=None,
        client_assertion_type=None,
        token_type=TOKEN_TYPE_MTLS_POP,
        tls_identity=certificate,
    )


def over_mtls(
    request: ClientCredentialsRequest, certificate: BindingCertificate
) -> ClientCredentialsRequest:
    """`request` (its client authentication kept, no `token_type`) sent with `certificate` on
    TLS: a Bearer token obtained with a bound credential (`UseBoundCredential`)."""
    return replace(request, token_type=None, tls_identity=certificate)


def jwt_pop_request(
    base: ClientCredentialsRequest, assertion: str, certificate: BindingCertificate
) -> ClientCredentialsRequest:
    """FIC leg 2, bound (wire-protocol §3.2/3.3): `base` as an `mtls_pop` token request whose
    client assertion (`jwt-pop`) is bound to `certificate`, presented on TLS."""
    return replace(
        base,
        client_secret=None,
        client_assertion=assertion,
        client_assertion_type=JWT_POP,
        token_type=TOKEN_TYPE_MTLS_POP,
        tls_identity=certificate,
    )
