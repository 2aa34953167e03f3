"""Server certificate pinning by SHA-1 thumbprint (Service Fabric's managed identity endpoint).

Service Fabric gives the thumbprint of its endpoint's self-issued certificate instead of a CA.
Verification stays on: a handshake-only connection (no request byte is sent) reads the server
certificate; if its SHA-1 matches the pin, requests use a context that trusts exactly that
certificate (as a partial chain, host name not checked, since the pin names the certificate).
A server that later presents another certificate fails the handshake.
"""

from __future__ import annotations

import hashlib
import logging
import socket
import ssl
import threading
from urllib.parse import urlsplit

from identity_web._errors import NetworkError
from identity_web.protocol._binding import BindingCertificate
from identity_web.transport._ssl import ALPN_PROTOCOLS, load_client_certificate

logger = logging.getLogger(__name__)


def normalize_thumbprint(thumbprint: str) -> str:
    """Hex, lower case, without the separators people paste (`AB:CD`, spaces)."""
    return "".join(c for c in thumbprint if c not in ": -\t").lower()


def fetch_server_certificate(host: str, port: int, timeout: float) -> bytes:
    """DER of the certificate the server presents, from a handshake that sends no request."""
    probe = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    probe.minimum_version = ssl.TLSVersion.TLSv1_2
    # The probe cannot verify what it has not seen yet; the DER it returns is checked against
    # the pin before anything is trusted, and no request data ever goes over this connection.
    probe.check_hostname = False
    probe.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection((host, port), timeout=timeout) as raw,
        probe.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    if not der:
        raise ssl.SSLError("the server presented no certificate")
    return der


def pinned_context(server_der: bytes, binding: BindingCertificate | None) -> ssl.SSLContext:
    """A context that trusts exactly `server_der` and presents `binding` if given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # no default roots: only the pin
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    context.post_handshake_auth = True
    context.check_hostname = False  # the pin names the certificate; its names do not matter
    context.verify_mode = ssl.CERT_REQUIRED
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    context.load_verify_locations(cadata=server_der)
    if binding is not None:
        load_client_certificate(context, binding)
    return context


class PinnedContexts:
    """Contexts for pinned servers, built once per (pin, binding) after one probe."""

    def __init__(self) -> None:
        self._contexts: dict[tuple[str, str | None], ssl.SSLContext] = {}
        self._lock = threading.Lock()

    def cached(self, pin: str, binding: BindingCertificate | None) -> ssl.SSLContext | None:
        key = (normalize_thumbprint(pin), binding.x5t_s256 if binding else None)
        return self._contexts.get(key)  # one dict read: no lock, safe on the event loop

    def context_for(
        self, url: str, pin: str, binding: BindingCertificate | None, timeout: float
    ) -> ssl.SSLContext:
        """The pinned context, probing the server the first time (blocking)."""
        context = self.cached(pin, binding)
        if context is not None:
            return context
        expected = normalize_thumbprint(pin)
        der = _probe(url, timeout)
        actual = hashlib.sha1(der, usedforsecurity=False).hexdigest()
        if actual != expected:
            raise NetworkError(
                f"the server at {_origin(url)} presented a certificate with SHA-1 thumbprint "
                f"{actual.upper()}, not the pinned {expected.upper()}; refusing to send",
                url=url,
            )
        logger.debug("server certificate of %s matches pin %s", _origin(url), expected)
        key = (expected, binding.x5t_s256 if binding else None)
        with self._lock:
            return self._contexts.setdefault(key, pinned_context(der, binding))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _probe(url: str, timeout: float) -> bytes:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname:
        raise NetworkError(f"certificate pinning needs an https URL, got {_origin(url)}", url=url)
    try:
        return fetch_server_certificate(parts.hostname, parts.port or 443, timeout)
    except (OSError, ssl.SSLError) as error:
        raise NetworkError(
            f"cannot read the server certificate of {_origin(url)} to check its pin: {error}",
            url=url,
        ) from error
