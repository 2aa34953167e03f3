"""requests: an `AuthBase` that attaches identity-web's Authorization header (Bearer only).

Each request asks the authorization header provider, so the header is renewed as the token
is. requests can present a client certificate only from files, which would put the private
key on disk, so a `MTLS_POP` section is refused; use `http_client(name)` for those APIs.
"""

from __future__ import annotations

from identity_web._errors import InvalidRequestError
from identity_web.acquisition import AuthorizationHeaderProvider
from identity_web.adapters._sections import missing
from identity_web.settings import DownstreamApiOptions

__all__ = ["MTLS_POP_REFUSED", "RequestsHeaderAuth"]

try:
    import requests
    from requests.auth import AuthBase
except ImportError as error:
    raise missing("requests", "requests") from error

MTLS_POP_REFUSED = (
    "requests presents client certificates only from files, and identity-web never writes a "
    "private key to disk; call mTLS PoP APIs with http_client(name) (httpx) or DownstreamApi."
)


class RequestsHeaderAuth(AuthBase):
    """`requests.get(url, auth=...)`: the section's Bearer header on every request."""

    def __init__(self, headers: AuthorizationHeaderProvider, options: DownstreamApiOptions) -> None:
        self._headers = headers
        self._options = options

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        information = self._headers.create_authorization_header(self._options)
        if information.binding_certificate is not None:  # a section changed under us: fail closed
            raise InvalidRequestError("IDW10115", MTLS_POP_REFUSED)
        request.headers["Authorization"] = information.header_value
        return request

    def __repr__(self) -> str:
        return f"RequestsHeaderAuth(scopes={list(self._options.scopes)!r})"
