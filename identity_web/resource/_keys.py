"""Where the validator's signing keys come from: the authority's OpenID metadata and JWKS.

`OpenIdSigningKeys` fetches `{authority}v2.0/.well-known/openid-configuration`, then its
`jwks_uri`, and keeps the keys by `kid`. A token signed with a `kid` it does not know triggers a
refresh, at most once per `refresh_interval` however many such tokens arrive (a stream of forged
`kid`s cannot turn the API into a JWKS hammer); keys older than `automatic_refresh` are
refreshed on use. Every fetch is bounded by one deadline (`timeout`, connect to last byte) and
a size cap; when it fails the cached keys stay in use, and only with no key at all is the
request answered `SigningKeysUnavailableError` (503).

`JwksSigningKeys` reads a key set from a callable (a file, a test, the emulator's own keys).
"""

from __future__ import annotations

import json
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import httpx
import jwt

from identity_web._errors import ConfigurationError
from identity_web.resource._errors import SigningKeysUnavailableError, UnknownSigningKeyError
from identity_web.transport._connect_to import ConnectTo, RoutedTransport

logger = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 512 * 1024

#: A public key object as PyJWT's algorithms take it (cryptography's RSA/EC public keys).
PublicKey = Any


class SigningKeys(Protocol):
    """The keys a validator checks signatures with, by `kid`."""

    def cached(self, kid: str) -> PublicKey | None:
        """The key for `kid` if it is at hand without I/O, else None."""
        ...

    def key(self, kid: str) -> PublicKey:
        """The key for `kid`, fetching when needed (blocking I/O). Raises
        `UnknownSigningKeyError` or `SigningKeysUnavailableError`."""
        ...


def parse_jwks(document: Mapping[str, Any]) -> dict[str, PublicKey]:
    """`kid` → public key for each signing key PyJWT can read; others are skipped."""
    keys: dict[str, PublicKey] = {}
    entries = document.get("keys")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        try:
            parsed = jwt.PyJWK(entry)
        # PyJWK reads untrusted JSON and lets more than its own errors out: NotImplementedError
        # for "alg": "none", TypeError for a list where a string belongs, ValueError for bad
        # numbers. Each means "a key PyJWT cannot read".
        except (jwt.PyJWTError, NotImplementedError, TypeError, ValueError, KeyError) as error:
            logger.debug("skipping JWKS key %r: %s", kid, type(error).__name__)
            continue
        if isinstance(kid, str) and kid:
            keys[kid] = parsed.key
    return keys


class JwksSigningKeys:
    """Keys from a JWKS document returned by `source()`, read again on an unknown `kid`."""

    def __init__(self, source: Callable[[], Mapping[str, Any]]) -> None:
        self._source = source
        self._keys: dict[str, PublicKey] = {}

    def cached(self, kid: str) -> PublicKey | None:
        return self._keys.get(kid)

    def key(self, kid: str) -> PublicKey:
        found = self._keys.get(kid)
        if found is None:
            self._keys = parse_jwks(self._source())
            found = self._keys.get(kid)
        if found is None:
            raise UnknownSigningKeyError(f"no signing key of the issuer has kid {kid[:64]!r}")
        return found


class _FetchError(Exception):
    """One fetch of the metadata or the key set failed (a safe reason, no document content)."""


class OpenIdSigningKeys:
    """Keys of an Entra authority, fetched over HTTPS from its OpenID metadata (thread-safe)."""

    def __init__(
        self,
        metadata_url: str,
        *,
        ca_bundle: str | None = None,
        timeout: float = 5.0,
        refresh_interval: float = 300.0,
        automatic_refresh: float = 12 * 3600.0,
        clock: Callable[[], float] = time.monotonic,
        connect_to: ConnectTo | None = None,
    ) -> None:
        if not metadata_url.startswith("https://"):
            raise ConfigurationError(
                f"the OpenID metadata {metadata_url} must be fetched over https (AzureAd.Instance)"
            )
        self.metadata_url = metadata_url
        self._timeout = timeout
        self._refresh_interval = refresh_interval
        self._automatic_refresh = automatic_refresh
        self._clock = clock
        self._ssl = _trust(ca_bundle)
        self._connect_to = (
            connect_to if connect_to is not None else ConnectTo.from_environ(os.environ)
        )
        self._lock = threading.Lock()
        self._keys: dict[str, PublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self.fetch_count = 0

    def cached(self, kid: str) -> PublicKey | None:
        if self._fetched_at is None or self._clock() - self._fetched_at >= self._automatic_refresh:
            return None
        return self._keys.get(kid)

    def key(self, kid: str) -> PublicKey:
        found = self.cached(kid)
        if found is not None:
            return found
        with self._lock:
            found = self.cached(kid)
            if found is None and self._may_fetch():
                self._refresh()
            keys = self._keys
        if not keys:
            raise SigningKeysUnavailableError(
                f"the signing keys of the issuer could not be fetched from {self.metadata_url}"
            )
        found = keys.get(kid)
        if found is None:
            raise UnknownSigningKeyError(f"no signing key of the issuer has kid {kid[:64]!r}")
        return found

    def _may_fetch(self) -> bool:
        last = self._attempted_at
        return last is None or self._clock() - last >= self._refresh_interval

    def _refresh(self) -> None:
        started = self._clock()
        self._attempted_at = started
        self.fetch_count += 1
        try:
            keys = self._fetch(deadline=started + self._timeout)
        except _FetchError as error:
            logger.warning(
                "could not refresh the signing keys from %s (%s); %d cached key(s) stay in use",
                self.metadata_url,
                error,
                len(self._keys),
            )
            return
        self._keys, self._fetched_at = keys, self._clock()
        logger.info("fetched %d signing key(s) from %s", len(keys), self.metadata_url)

    def _fetch(self, *, deadline: float) -> dict[str, PublicKey]:
        transport = RoutedTransport(httpx.HTTPTransport(verify=self._ssl), self._connect_to)
        with httpx.Client(
            transport=transport, timeout=self._timeout, follow_redirects=False
        ) as http:
            metadata = self._get_json(http, self.metadata_url, deadline)
            jwks_uri = metadata.get("jwks_uri")
            if not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
                raise _FetchError("the metadata has no https jwks_uri")
            keys = parse_jwks(self._get_json(http, jwks_uri, deadline))
        if not keys:
            raise _FetchError("the key set has no usable signing key")
        return keys

    def _get_json(self, http: httpx.Client, url: str, deadline: float) -> dict[str, Any]:
        body = bytearray()
        try:
            with http.stream("GET", url, timeout=self._remaining(deadline)) as response:
                if response.status_code != 200:
                    raise _FetchError(f"HTTP {response.status_code} from {url}")
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_DOCUMENT_BYTES:
                        raise _FetchError(f"the document at {url} is too large")
                    self._remaining(deadline)
        except httpx.HTTPError as error:
            raise _FetchError(f"{type(error).__name__} from {url}") from error
        try:
            document = json.loads(body)
        except ValueError as error:
            raise _FetchError(f"the document at {url} is not JSON") from error
        if not isinstance(document, dict):
            raise _FetchError(f"the document at {url} is not a JSON object")
        return document

    def _remaining(self, deadline: float) -> float:
        left = deadline - self._clock()
        if left <= 0:
            raise _FetchError("the fetch took longer than its deadline")
        return left


def _trust(ca_bundle: str | None) -> ssl.SSLContext:
    """System trust roots (honouring SSL_CERT_FILE / SSL_CERT_DIR) plus `ca_bundle`."""
    context = ssl.create_default_context()
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


__all__ = ["JwksSigningKeys", "OpenIdSigningKeys", "PublicKey", "SigningKeys", "parse_jwks"]
