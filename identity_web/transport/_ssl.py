"""TLS client contexts: verification always on, HTTP/1.1, and the client certificate loaded
without the private key ever reaching the filesystem.

`ssl.SSLContext.load_cert_chain` only reads files. The key is therefore serialized as an
encrypted PKCS#8 PEM under a random one-time password, written with its certificate chain into
an anonymous `memfd_create` file (memory only, no name in any directory) and read back by
OpenSSL through `/proc/self/fd/N`; the descriptor is closed right away. Where memfd is missing
(not Linux, or no /proc), a 0600 temporary file is used and deleted as soon as it is loaded —
the key in it is still encrypted under a password that only lives in this process.
"""

from __future__ import annotations

import logging
import os
import secrets
import ssl
import tempfile
import threading
from collections import OrderedDict

from cryptography.hazmat.primitives import serialization

from identity_web._errors import ConfigurationError, CredentialError
from identity_web.protocol._binding import BindingCertificate

logger = logging.getLogger(__name__)

ALPN_PROTOCOLS = ["http/1.1"]


def base_context() -> ssl.SSLContext:
    """The settings every client context shares, before trust roots and identity are added.

    Post-handshake client authentication (TLS 1.3) is enabled and TLS 1.2 renegotiation is
    left allowed: services such as Key Vault ask for the client certificate that way.
    """
    context = ssl.create_default_context()  # system roots; honours SSL_CERT_FILE / SSL_CERT_DIR
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(ALPN_PROTOCOLS)
    context.post_handshake_auth = True
    return context


def build_ssl_context(
    binding: BindingCertificate | None, *, ca_bundle: str | None = None
) -> ssl.SSLContext:
    """A new client context (uncached; see `ssl_context_for`)."""
    context = base_context()
    if ca_bundle:
        try:
            context.load_verify_locations(cafile=ca_bundle)
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(
                f"the CA bundle '{ca_bundle}' cannot be loaded ({error}); point ca_bundle (or "
                "SSL_CERT_FILE) to a readable PEM file of trusted CA certificates"
            ) from error
    if binding is not None:
        load_client_certificate(context, binding)
    return context


def load_client_certificate(context: ssl.SSLContext, binding: BindingCertificate) -> None:
    """Give `context` the binding certificate, its chain and its private key."""
    password = secrets.token_urlsafe(32)
    key = binding.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(password.encode("ascii")),
    )
    certificates = (binding.certificate, *binding.chain)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certificates) + key
    try:
        if memfd_available():
            _load_from_memfd(context, pem, password)
        else:
            _load_from_temporary_file(context, pem, password)
    except ssl.SSLError as error:
        raise CredentialError(
            f"OpenSSL refused the client certificate (x5t#S256 {binding.x5t_s256}): "
            f"{error.reason or error}"
        ) from error
    logger.debug("client certificate x5t#S256 %s loaded into a TLS context", binding.x5t_s256)


def memfd_available() -> bool:
    return hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd")


def _load_from_memfd(context: ssl.SSLContext, pem: bytes, password: str) -> None:
    descriptor = os.memfd_create("identity-web-client-certificate", os.MFD_CLOEXEC)
    try:
        _write_all(descriptor, pem)
        context.load_cert_chain(f"/proc/self/fd/{descriptor}", password=password)
    finally:
        os.close(descriptor)


def _write_all(descriptor: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(descriptor, view) :]


def _load_from_temporary_file(context: ssl.SSLContext, pem: bytes, password: str) -> None:
    logger.debug("memfd_create is not available; using a 0600 temporary file")
    with tempfile.NamedTemporaryFile(prefix="identity-web-", suffix=".pem") as handle:
        handle.write(pem)
        handle.flush()
        context.load_cert_chain(handle.name, password=password)


_CacheKey = tuple[str | None, str | None, str | None, str | None]


class SslContextCache:
    """One context per binding `x5t#S256` and trust roots, built once, LRU-bounded, thread-safe.

    The trust roots are `ca_bundle` and the `SSL_CERT_FILE` / `SSL_CERT_DIR` variables, read
    when a context is built; a change of those variables gives new contexts.
    """

    def __init__(self, max_size: int = 128) -> None:
        self._max_size = max_size
        self._contexts: OrderedDict[_CacheKey, ssl.SSLContext] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, binding: BindingCertificate | None, *, ca_bundle: str | None = None
    ) -> ssl.SSLContext:
        key = (
            binding.x5t_s256 if binding else None,
            ca_bundle,
            os.environ.get("SSL_CERT_FILE"),
            os.environ.get("SSL_CERT_DIR"),
        )
        with self._lock:
            context = self._contexts.get(key)
            if context is None:
                context = build_ssl_context(binding, ca_bundle=ca_bundle)
                self._contexts[key] = context
                while len(self._contexts) > self._max_size:
                    self._contexts.popitem(last=False)
            self._contexts.move_to_end(key)
            return context


_contexts = SslContextCache()


def ssl_context_for(
    binding: BindingCertificate | None, *, ca_bundle: str | None = None
) -> ssl.SSLContext:
    """The shared client context for `binding` (None: no client certificate) and `ca_bundle`.

    Verification is always on: system trust roots (or `SSL_CERT_FILE`) plus `ca_bundle` when
    given. Built once per certificate; later calls return the same object.
    """
    return _contexts.get(binding, ca_bundle=ca_bundle)
