"""RFC 8705 helpers: thumbprints and the FIC jwt-pop request shape."""

from __future__ import annotations

import base64
import hashlib

from identity_web.protocol import BindingCertificate
from identity_web.protocol.oauth2 import ClientCredentialsRequest, build_token_request
from identity_web.protocol.rfc7523 import JWT_POP
from identity_web.protocol.rfc8705 import jwt_pop_request, x5t_s256


def test_x5t_s256_is_base64url_sha256_of_the_der_without_padding(
    certificate: BindingCertificate,
) -> None:
    digest = hashlib.sha256(certificate.der).digest()
    expected = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert x5t_s256(certificate.der) == expected == certificate.x5t_s256
    assert "=" not in expected


def test_fic_leg_two_presents_the_assertion_over_its_certificate(
    certificate: BindingCertificate,
) -> None:
    base = ClientCredentialsRequest(
        token_endpoint="https://mtlsauth.microsoft.com/t/oauth2/v2.0/token",
        client_id="leg2",
        scope="https://vault.azure.net/.default",
        client_secret="never-sent-with-a-bound-assertion",
    )
    request = jwt_pop_request(base, "leg1.token.jwt", certificate)
    http = build_token_request(request)
    form = dict(http.form or {})
    assert form["client_assertion_type"] == JWT_POP
    assert form["client_assertion"] == "leg1.token.jwt"
    assert form["token_type"] == "mtls_pop"
    assert "client_secret" not in form
    assert http.tls_identity is certificate
