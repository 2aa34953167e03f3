"""Where the request's TLS client certificate comes from, as an `x5t#S256` thumbprint.

Exactly one place, chosen by the settings (`AzureAd.ClientCertificateHeader`):

- unset: the server's own TLS layer — the ASGI TLS extension
  (`scope["extensions"]["tls"]["client_cert_chain"]`, leaf first) or WSGI's `SSL_CLIENT_CERT`
  (PEM). Any proxy header is ignored, so a client cannot claim a certificate it does not hold.
- set: only that header, written by a proxy that terminated TLS and that the API trusts (the
  API must be reachable only through it). The format follows the header's name:
  `X-ARR-ClientCert` (App Service): base64 DER; `X-Forwarded-Client-Cert` (Envoy, Istio):
  the `Cert="<url-encoded PEM>"` or `Hash=<hex SHA-256>` of its first element; any other name:
  a URL-encoded PEM, which is nginx's `$ssl_client_escaped_cert`.

A value that cannot be read counts as no certificate: a bound token is then refused.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from identity_web.protocol import b64url, x5t_s256

logger = logging.getLogger(__name__)

ARR_CLIENT_CERT = "x-arr-clientcert"
FORWARDED_CLIENT_CERT = "x-forwarded-client-cert"
MAX_HEADER_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class ClientCertificateSource:
    """Reads the request's client certificate thumbprint from the one trusted place."""

    header: str | None = None
    """The trusted proxy header (any case), or None for the server's TLS layer."""

    def from_asgi(self, scope: Mapping[str, Any]) -> str | None:
        """The thumbprint for an ASGI HTTP `scope`, or None when there is no certificate."""
        if self.header is not None:
            wanted = self.header.lower().encode("latin-1")
            headers: Iterable[tuple[bytes, bytes]] = scope.get("headers") or ()
            value = next((v for k, v in headers if k.lower() == wanted), None)
            return None if value is None else self.from_header_value(value.decode("latin-1"))
        tls = (scope.get("extensions") or {}).get("tls") or {}
        chain = tls.get("client_cert_chain")
        leaf = chain if isinstance(chain, str) else (chain[0] if chain else None)
        return _thumbprint_of_pem(leaf) if isinstance(leaf, str) else None

    def from_wsgi(self, environ: Mapping[str, Any]) -> str | None:
        """The thumbprint for a WSGI `environ`, or None when there is no certificate."""
        if self.header is not None:
            value = environ.get("HTTP_" + self.header.upper().replace("-", "_"))
            return self.from_header_value(value) if isinstance(value, str) else None
        pem = environ.get("SSL_CLIENT_CERT")
        return _thumbprint_of_pem(pem) if isinstance(pem, str) and pem.strip() else None

    def from_header_value(self, value: str) -> str | None:
        """The thumbprint in a value of the trusted header, read in that header's format."""
        if not value.strip() or len(value) > MAX_HEADER_BYTES:
            return None
        name = (self.header or "").lower()
        if name == ARR_CLIENT_CERT:
            return _thumbprint_of_base64_der(value)
        if name == FORWARDED_CLIENT_CERT:
            return _thumbprint_of_xfcc(value)
        return _thumbprint_of_pem(unquote(value))


def _thumbprint_of_pem(pem: str) -> str | None:
    try:
        certificate = x509.load_pem_x509_certificate(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        logger.debug("the client certificate is not a PEM certificate")
        return None
    return x5t_s256(certificate.public_bytes(Encoding.DER))


def _thumbprint_of_base64_der(value: str) -> str | None:
    try:
        der = base64.b64decode(value.strip(), validate=True)
        x509.load_der_x509_certificate(der)
    except (ValueError, binascii.Error):
        logger.debug("the client certificate header is not base64 DER")
        return None
    return x5t_s256(der)


def _thumbprint_of_xfcc(value: str) -> str | None:
    """Envoy's `X-Forwarded-Client-Cert`: the first element's `Cert`, else its `Hash`."""
    first = value.split(",", 1)[0]
    fields: dict[str, str] = {}
    for pair in first.split(";"):
        key, _, item = pair.partition("=")
        fields[key.strip().lower()] = item.strip().strip('"')
    if fields.get("cert"):
        return _thumbprint_of_pem(unquote(fields["cert"]))
    digest = fields.get("hash", "")
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        return None
    return b64url(raw) if len(raw) == 32 else None


__all__ = ["ClientCertificateSource"]
