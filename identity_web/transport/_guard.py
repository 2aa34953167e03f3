"""The checks every request passes before any I/O."""

from __future__ import annotations

from urllib.parse import urlsplit

from identity_web._errors import InvalidRequestError
from identity_web.protocol._http import HttpRequest, redact_url


def check_request(request: HttpRequest) -> None:
    """Refuse, before any I/O, a request that would expose a bound credential."""
    scheme = urlsplit(request.url).scheme.lower()
    if request.tls_identity is not None and scheme != "https":
        raise InvalidRequestError(
            "",
            f"refusing to send {request.method} {redact_url(request.url)} with a client "
            f"certificate (x5t#S256 {request.tls_identity.x5t_s256}) over {scheme or 'no'} "
            "scheme: a bound request only goes over https",
        )
    if request.pinned_server_sha1 and scheme != "https":
        raise InvalidRequestError(
            "",
            f"refusing {request.method} {redact_url(request.url)}: a pinned server certificate "
            "needs an https URL",
        )
