"""Keys and certificates the emulator makes for itself: CAs, server and client certificates."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from identity_web.protocol._binding import b64url, x5t_s256

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey

# Certificates are back-dated so a client whose clock is slightly behind still accepts them.
_BACKDATE = dt.timedelta(minutes=5)


def new_rsa_key(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def name(common_name: str, organization: str | None = None) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(attributes)


def der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def thumbprint_s256(certificate: x509.Certificate) -> str:
    """`x5t#S256` of a certificate (base64url SHA-256 of the DER, no padding)."""
    return x5t_s256(der(certificate))


def thumbprint_sha1(certificate: x509.Certificate) -> str:
    """`x5t` of a certificate (base64url SHA-1 of the DER, no padding)."""
    return b64url(hashlib.sha1(der(certificate), usedforsecurity=False).digest())


def loopback_san(*names: str) -> list[x509.GeneralName]:
    """SAN for an emulator TLS host: IP 127.0.0.1, IP ::1, DNS localhost, and `names`."""
    return [
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        x509.IPAddress(ipaddress.ip_address("::1")),
        x509.DNSName("localhost"),
        *(x509.DNSName(name) for name in names),
    ]


@dataclass(slots=True, eq=False)
class CertificateAuthority:
    """A self-signed CA that issues leaf certificates (TLS servers, clients, IMDS bindings)."""

    certificate: x509.Certificate = field(repr=False)
    key: rsa.RSAPrivateKey = field(repr=False)

    @classmethod
    def create(cls, common_name: str, *, days: float = 3650) -> CertificateAuthority:
        """A self-signed root that may sign one level of intermediates."""
        key = new_rsa_key()
        subject = name(common_name, "identity-web emulator")
        builder = _ca_builder(subject, subject, key, days=days, path_length=1)
        return cls(builder.sign(key, hashes.SHA256()), key)

    def intermediate(self, common_name: str, *, days: float = 365) -> CertificateAuthority:
        """A subordinate CA signed by this one (for client certificate chains)."""
        key = new_rsa_key()
        subject = name(common_name, "identity-web emulator")
        builder = _ca_builder(subject, self.certificate.subject, key, days=days, path_length=0)
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
        )
        return CertificateAuthority(builder.sign(self.key, hashes.SHA256()), key)

    @property
    def pem(self) -> bytes:
        return pem(self.certificate)

    def issue(
        self,
        public_key: PublicKey,
        subject: x509.Name,
        *,
        days: float,
        client_auth: bool = True,
        server_auth: bool = False,
        san: Sequence[x509.GeneralName] | None = None,
        not_before: dt.datetime | None = None,
    ) -> x509.Certificate:
        """A leaf certificate for `public_key`, valid from `not_before` (default now - 5 min)."""
        start = not_before or dt.datetime.now(dt.UTC) - _BACKDATE
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else []
        usages += [ExtendedKeyUsageOID.SERVER_AUTH] if server_auth else []
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(start + _BACKDATE + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(ca=False), critical=True)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False
            )
        )
        if usages:
            builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(list(san)), False)
        return builder.sign(self.key, hashes.SHA256())

    def issued(self, certificate: x509.Certificate) -> bool:
        """True when `certificate` carries this CA's name as issuer and its signature verifies."""
        return _signed_by(certificate, self.certificate)

    def issued_through(
        self, certificate: x509.Certificate, intermediates: Sequence[x509.Certificate]
    ) -> bool:
        """True when this CA issued `certificate` directly or through one of `intermediates`
        (a CA certificate this CA issued)."""
        if self.issued(certificate):
            return True
        return any(
            _is_ca(intermediate)
            and self.issued(intermediate)
            and _signed_by(certificate, intermediate)
            for intermediate in intermediates
        )


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _ca_builder(
    subject: x509.Name,
    issuer: x509.Name,
    key: rsa.RSAPrivateKey,
    *,
    days: float,
    path_length: int,
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    """A CA signs certificates and CRLs; a leaf signs and (RSA) enciphers keys."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )
