"""Test certificates made on the fly with `cryptography`: CAs, leaves, PFX and PEM files.

Generic on purpose so any test area can reuse it::

    ca = make_ca()
    server = make_leaf(ca, "localhost", dns=("localhost",), ips=("127.0.0.1",), server=True)
    client = make_leaf(ca, "app", not_after=NOW - DAY)          # expired
    write_pfx(tmp_path / "app.pfx", client, password="pw", chain=(ca,))
    write_pem(tmp_path / "app.pem", client, chain=(ca,))
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from identity_web.protocol import BindingCertificate
from identity_web.protocol._binding import PrivateKey

KeyType = Literal["ec", "rsa"]
DAY = dt.timedelta(days=1)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    certificate: x509.Certificate
    private_key: PrivateKey

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    def key_pem(self, password: str | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password.encode())
            if password
            else serialization.NoEncryption()
        )
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def binding(self, chain: Sequence[Issued] = ()) -> BindingCertificate:
        return BindingCertificate.create(
            self.certificate, self.private_key, tuple(c.certificate for c in chain)
        )


def _new_key(key_type: KeyType) -> PrivateKey:
    if key_type == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ec.generate_private_key(ec.SECP256R1())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(
    name: str = "identity-web test CA",
    *,
    key_type: KeyType = "ec",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    issuer: Issued | None = None,
) -> Issued:
    """A CA certificate: self-signed, or an intermediate when `issuer` is given."""
    key = _new_key(key_type)
    start = not_before or utcnow() - DAY
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(issuer.certificate.subject if issuer else _name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + 30 * DAY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    signer = issuer.private_key if issuer else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


def make_leaf(
    ca: Issued,
    name: str = "identity-web test app",
    *,
    key_type: KeyType = "ec",
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    server: bool = False,
    client: bool = True,
) -> Issued:
    """An end-entity certificate issued by `ca` (client auth by default; `server=True` adds it)."""
    key = _new_key(key_type)
    start = not_before or utcnow() - DAY
    usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
    if server:
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + 10 * DAY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
    )
    names: list[x509.GeneralName] = [x509.DNSName(d) for d in dns]
    names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return Issued(builder.sign(ca.private_key, hashes.SHA256()), key)


def make_self_signed(
    name: str = "identity-web self-signed",
    *,
    key_type: KeyType = "ec",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
) -> Issued:
    """A self-signed end-entity certificate (its own issuer)."""
    key = _new_key(key_type)
    start = not_before or utcnow() - DAY
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(_name(name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after or start + 10 * DAY)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def pfx_bytes(
    leaf: Issued,
    *,
    password: str | None = None,
    chain: Sequence[Issued] = (),
    include_key: bool = True,
) -> bytes:
    """PKCS#12 bytes of `leaf` (+ chain), password-protected when `password` is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    return pkcs12.serialize_key_and_certificates(
        b"identity-web-test",
        leaf.private_key if include_key else None,
        leaf.certificate,
        [c.certificate for c in chain] or None,
        encryption,
    )


def write_pfx(
    path: Path,
    leaf: Issued,
    *,
    password: str | None = None,
    chain: Sequence[Issued] = (),
    include_key: bool = True,
) -> Path:
    path.write_bytes(pfx_bytes(leaf, password=password, chain=chain, include_key=include_key))
    return path


def pem_bytes(
    leaf: Issued,
    *,
    chain: Sequence[Issued] = (),
    include_key: bool = True,
    key_password: str | None = None,
    key_first: bool = False,
) -> bytes:
    """PEM text: the leaf, then the chain, then (or first) the private key."""
    certs = leaf.cert_pem + b"".join(c.cert_pem for c in chain)
    if not include_key:
        return certs
    key = leaf.key_pem(key_password)
    return key + certs if key_first else certs + key


def write_pem(
    path: Path,
    leaf: Issued,
    *,
    chain: Sequence[Issued] = (),
    include_key: bool = True,
    key_password: str | None = None,
    key_first: bool = False,
) -> Path:
    data = pem_bytes(
        leaf, chain=chain, include_key=include_key, key_password=key_password, key_first=key_first
    )
    path.write_bytes(data)
    return path
