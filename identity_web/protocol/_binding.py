"""`BindingCertificate`: a certificate with its private key, as used for mTLS and token binding."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

PrivateKey: TypeAlias = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def x5t_s256(certificate_der: bytes) -> str:
    """`x5t#S256` = base64url(SHA-256(DER of the whole certificate)), no padding (RFC 8705 §3.1)."""
    return b64url(hashlib.sha256(certificate_der).digest())


@dataclass(frozen=True, slots=True, eq=False)
class BindingCertificate:
    """A leaf certificate, its chain and private key. Immutable; equal by `x5t#S256`.

    The private key is never part of the repr; it leaves the process only towards OpenSSL
    (see `identity_web.transport`).
    """

    certificate: x509.Certificate = field(repr=False)
    private_key: PrivateKey = field(repr=False)
    chain: tuple[x509.Certificate, ...] = field(default=(), repr=False)
    x5t_s256: str = ""
    not_before: datetime = field(default=datetime.min)
    not_after: datetime = field(default=datetime.min)
    subject: str = ""

    @classmethod
    def create(
        cls,
        certificate: x509.Certificate,
        private_key: PrivateKey,
        chain: tuple[x509.Certificate, ...] = (),
    ) -> BindingCertificate:
        der = certificate.public_bytes(serialization.Encoding.DER)
        return cls(
            certificate=certificate,
            private_key=private_key,
            chain=chain,
            x5t_s256=x5t_s256(der),
            not_before=certificate.not_valid_before_utc,
            not_after=certificate.not_valid_after_utc,
            subject=certificate.subject.rfc4514_string(),
        )

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def x5t(self) -> str:
        """`x5t`: base64url SHA-1 thumbprint (JWS header of client assertions)."""
        return b64url(hashlib.sha1(self.der, usedforsecurity=False).digest())

    @property
    def x5c(self) -> list[str]:
        """`x5c`: standard base64 DER of the leaf then the chain (RFC 7515 §4.1.6)."""
        certs = (self.certificate, *self.chain)
        ders = (c.public_bytes(serialization.Encoding.DER) for c in certs)
        return [base64.b64encode(d).decode("ascii") for d in ders]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BindingCertificate) and other.x5t_s256 == self.x5t_s256

    def __hash__(self) -> int:
        return hash(self.x5t_s256)
