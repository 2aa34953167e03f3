"""How an entry is written to the distributed cache: versioned JSON, optionally AES-GCM sealed.

Plain:     `{"v": 1, "entry": {...}}`
Encrypted: `{"v": 1, "kid": "<8 hex>", "nonce": "<b64>", "sealed": "<b64>"}` — AES-GCM over the
entry's JSON, with the Redis key as associated data, so a sealed entry copied under another key
(another tenant, certificate or scope) does not open. `kid` names the key that sealed it (the
first 8 hex digits of the key's SHA-256), so keys can be rotated: the first configured key seals,
every configured key opens.

What may leave the process (`encode` returns None otherwise): entries without a binding
certificate, and entries bound to the certificate the key itself names (a certificate credential,
whose holder can prove possession again). A token bound to a certificate the flow chose (the
IMDS v2 key, which lives in one process's memory) stays in that process. The entry holds no
secret, assertion or key: only the token, its times, its endpoint and the thumbprint.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from identity_web.cache._base import CacheEntry, CacheKey
from identity_web.protocol import TokenType

FORMAT_VERSION = 1
NONCE_BYTES = 12


class UnreadableEntry(Exception):  # noqa: N818 - internal signal: the entry is a miss
    """An L2 entry that cannot be used; `reason` never holds token or key material."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:8]


def may_leave_process(key: CacheKey, entry: CacheEntry) -> bool:
    """Only tokens another process can use with what it holds itself."""
    if not key.shareable:
        return False
    certificate = entry.binding_certificate
    return certificate is None or certificate.x5t_s256 == key.binding


class EntryCodec:
    """Encodes and decodes entries; seals them when keys are given (the first one seals)."""

    def __init__(self, keys: Sequence[bytes] = ()) -> None:
        self._openers = {key_id(key): AESGCM(key) for key in keys}
        self._sealer = (key_id(keys[0]), AESGCM(keys[0])) if keys else None

    @property
    def encrypts(self) -> bool:
        return self._sealer is not None

    def encode(self, name: str, key: CacheKey, entry: CacheEntry) -> bytes | None:
        """The bytes stored under Redis key `name`, or None when the entry must not leave."""
        if not may_leave_process(key, entry):
            return None
        fields = {
            "access_token": entry.access_token,
            "token_type": entry.token_type,
            "expires_on": entry.expires_on,
            "refresh_on": entry.refresh_on,
            "token_endpoint": entry.token_endpoint,
            "correlation_id": entry.correlation_id,
            "x5t#S256": key.binding,
        }
        if self._sealer is None:
            return _dump({"v": FORMAT_VERSION, "entry": fields})
        kid, aead = self._sealer
        nonce = os.urandom(NONCE_BYTES)
        sealed = aead.encrypt(nonce, _dump(fields), name.encode())
        return _dump(
            {"v": FORMAT_VERSION, "kid": kid, "nonce": _b64(nonce), "sealed": _b64(sealed)}
        )

    def decode(self, name: str, key: CacheKey, raw: bytes) -> CacheEntry:
        """The entry stored under `name`; UnreadableEntry when it cannot be trusted or read."""
        document = _load(raw)
        if document.get("v") != FORMAT_VERSION:
            raise UnreadableEntry(f"format version {document.get('v')!r}, expected 1")
        if self._sealer is None:
            if "entry" not in document:
                raise UnreadableEntry("sealed entry, but Encrypt is off")
            fields = document["entry"]
        else:
            if "sealed" not in document:
                raise UnreadableEntry("plain entry, but Encrypt is on (entries must be sealed)")
            fields = _load(self._open(name, document))
        return _entry(key, fields)

    def _open(self, name: str, document: dict[str, Any]) -> bytes:
        aead = self._openers.get(str(document.get("kid")))
        if aead is None:
            raise UnreadableEntry(f"sealed with key id {document.get('kid')!r}, not configured")
        try:
            nonce = base64.b64decode(document["nonce"], validate=True)
            return aead.decrypt(
                nonce, base64.b64decode(document["sealed"], validate=True), name.encode()
            )
        except (InvalidTag, ValueError, TypeError, KeyError):
            raise UnreadableEntry("does not decrypt with the configured key") from None


def _entry(key: CacheKey, fields: Any) -> CacheEntry:
    try:
        entry = CacheEntry(
            access_token=_text(fields["access_token"]),
            token_type=_text(fields["token_type"]),
            expires_on=float(fields["expires_on"]),
            refresh_on=None if fields["refresh_on"] is None else float(fields["refresh_on"]),
            token_endpoint=_text(fields["token_endpoint"]),
            correlation_id=_text(fields["correlation_id"]),
        )
        thumbprint = _text(fields["x5t#S256"])
    except (KeyError, TypeError, ValueError):
        raise UnreadableEntry("fields missing or of the wrong type") from None
    if thumbprint != key.binding or TokenType.from_wire(entry.token_type) is not key.token_type:
        raise UnreadableEntry("token type or thumbprint differs from the key's")
    return entry


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def _dump(document: dict[str, Any]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


def _load(raw: bytes) -> dict[str, Any]:
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise UnreadableEntry("not JSON") from None
    if not isinstance(document, dict):
        raise UnreadableEntry("not a JSON object")
    return document


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
