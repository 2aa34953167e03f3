"""What the emulated Key Vault holds: secrets with every version, and certificates as secrets."""

from __future__ import annotations

import base64
import secrets
import threading
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from identity_web.emulator._pki import pem
from identity_web.protocol import BindingCertificate

#: The content types of a certificate's secret: a base64 PFX, or PEM text.
PKCS12, PEM = "application/x-pkcs12", "application/x-pem-file"


@dataclass(frozen=True, slots=True)
class VaultSecret:
    """One version of a secret (`version`: 32 hex digits); the value stays out of the repr."""

    name: str
    version: str
    value: str = field(repr=False)
    content_type: str
    created: int


class KeyVaultStore:
    """The vault's secrets, every version kept; thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._versions: dict[str, list[VaultSecret]] = {}

    def set_secret(self, name: str, value: str, content_type: str, *, created: int) -> str:
        """Add a new version of `name`; returns the version id (32 hex)."""
        version = secrets.token_hex(16)
        with self._lock:
            secret = VaultSecret(name.lower(), version, value, content_type, created)
            self._versions.setdefault(name.lower(), []).append(secret)
        return version

    def set_certificate(
        self,
        name: str,
        credential: BindingCertificate,
        *,
        content_type: str = PKCS12,
        created: int = 0,
    ) -> str:
        """Import a certificate with its key: a new version of the secret `name`, as a PFX
        (base64, no password) or as PEM (certificate, chain, then the PKCS#8 key)."""
        return self.set_secret(
            name, _certificate_value(credential, content_type), content_type, created=created
        )

    def clear(self) -> None:
        with self._lock:
            self._versions.clear()

    def get(self, name: str, version: str | None) -> VaultSecret | None:
        with self._lock:
            versions = list(self._versions.get(name.lower(), ()))
        if not versions:
            return None
        if not version:
            return versions[-1]
        return next((s for s in versions if s.version == version.lower()), None)


def _certificate_value(credential: BindingCertificate, content_type: str) -> str:
    if content_type == PEM:
        key = credential.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        chain = b"".join(pem(c) for c in (credential.certificate, *credential.chain))
        return (chain + key).decode("ascii")
    pfx = pkcs12.serialize_key_and_certificates(
        None,
        credential.private_key,
        credential.certificate,
        list(credential.chain),
        serialization.NoEncryption(),
    )
    return base64.b64encode(pfx).decode("ascii")
