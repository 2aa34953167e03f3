"""Turning PKCS#12 or PEM bytes into a `BindingCertificate`, shared by the certificate loaders.

`what` names the source in messages ("certificate file '/abs/app.pfx'"), `key` is the settings
key the content came from (`CertificateDiskPath`). Passwords never appear in a message.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12

from identity_web.credentials._errors import (
    CertificateExpiredError,
    CertificateNotYetValidError,
    MalformedCredentialError,
    MissingPrivateKeyError,
    WrongPasswordError,
)
from identity_web.protocol._binding import BindingCertificate, PrivateKey

_PEM_KEY = re.compile(
    rb"-----BEGIN ((?:ENCRYPTED |RSA |EC )?PRIVATE KEY)-----.*?-----END \1-----", re.DOTALL
)
_PASSWORD_KEY = "CertificatePassword"  # noqa: S105 - the settings key name, not a password


def looks_like_pem(data: bytes) -> bool:
    """PEM text (possibly after comments or bag attributes), as opposed to a DER PFX."""
    return not _looks_like_pfx(data) and b"-----BEGIN " in data


def _looks_like_pfx(data: bytes) -> bool:
    """PFX ::= SEQUENCE { version INTEGER (3), ... } (RFC 7292 §4), checked on the first bytes."""
    if len(data) < 8 or data[0] != 0x30:
        return False
    length_octets = data[1] & 0x7F if data[1] & 0x80 else 0
    version = 2 + length_octets
    return data[version : version + 3] == b"\x02\x01\x03"


def _password_bytes(password: str | None) -> bytes | None:
    if password is not None and "\x00" in password:
        # cryptography's PKCS#12 reader panics (pyo3 PanicException) on a NUL in the password.
        raise WrongPasswordError("the password holds a NUL character", key=_PASSWORD_KEY)
    return None if password is None else password.encode("utf-8")


def from_pkcs12(data: bytes, password: str | None, *, what: str, key: str) -> BindingCertificate:
    """Load a PKCS#12 (PFX) blob, with or without a password."""
    if not _looks_like_pfx(data):
        raise MalformedCredentialError(f"{what} is not a PKCS#12 (PFX) file", key=key)
    try:
        bundle = pkcs12.load_pkcs12(data, _password_bytes(password))
    except ValueError as error:
        bundle = _retry_without_password(data, password, what=what, error=error)
    certificates = [c.certificate for c in bundle.additional_certs]
    if bundle.cert is not None:
        certificates.insert(0, bundle.cert.certificate)
    if not certificates:
        raise MalformedCredentialError(f"{what} holds no certificate", key=key)
    if bundle.key is None:
        raise MissingPrivateKeyError(
            f"{what} holds no private key (export it with its key)", key=key
        )
    return to_binding(certificates, bundle.key, what=what, key=key)


def _retry_without_password(
    data: bytes, password: str | None, *, what: str, error: ValueError
) -> pkcs12.PKCS12KeyAndCertificates:
    """A password given for a PFX that has none is tolerated; otherwise the password is wrong."""
    if password:
        try:
            return pkcs12.load_pkcs12(data, None)
        except ValueError:
            pass
    hint = "is wrong" if password else "is required but not set"
    raise WrongPasswordError(
        f"cannot open {what}: the password {hint} (or the file is damaged)", key=_PASSWORD_KEY
    ) from error


def from_pem(data: bytes, password: str | None, *, what: str, key: str) -> BindingCertificate:
    """Load PEM text holding the certificate, its chain and its private key, in any order."""
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as error:
        raise MalformedCredentialError(
            f"{what} holds no readable PEM certificate", key=key
        ) from error
    match = _PEM_KEY.search(data)
    if match is None:
        raise MissingPrivateKeyError(
            f"{what} holds no PEM private key; put the key in the same file as the certificate",
            key=key,
        )
    private_key = _pem_private_key(match.group(0), password, what=what, key=key)
    return to_binding(certificates, private_key, what=what, key=key)


def _pem_private_key(block: bytes, password: str | None, *, what: str, key: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(block, _password_bytes(password))
    except TypeError as error:
        if password is None:
            raise WrongPasswordError(
                f"the private key in {what} is encrypted and the password is not set",
                key=_PASSWORD_KEY,
            ) from error
        return _pem_private_key(block, None, what=what, key=key)
    except ValueError as error:
        if b"ENCRYPTED" in block[:40]:
            raise WrongPasswordError(
                f"cannot decrypt the private key in {what}: the password is wrong",
                key=_PASSWORD_KEY,
            ) from error
        raise MalformedCredentialError(
            f"the private key in {what} cannot be read", key=key
        ) from error


def _public_der(value: x509.Certificate | PrivateKey) -> bytes:
    return value.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def to_binding(
    certificates: Sequence[x509.Certificate],
    private_key: PrivateKeyTypes,
    *,
    what: str,
    key: str,
) -> BindingCertificate:
    """Pick the certificate that matches the key as the leaf; the others form its chain."""
    if not isinstance(private_key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise MissingPrivateKeyError(
            f"{what} holds a {type(private_key).__name__} key; only RSA and EC keys can be used",
            key=key,
        )
    # cryptography reads certificate fields lazily: a damaged public key or date only fails
    # here, as a ValueError, or as UnsupportedAlgorithm for a damaged key algorithm.
    try:
        key_der = _public_der(private_key)
        leaves = [c for c in certificates if _public_der(c) == key_der]
        if not leaves:
            raise MissingPrivateKeyError(
                f"the private key in {what} does not belong to any certificate in it", key=key
            )
        leaf = leaves[0]
        others = [c for c in certificates if c is not leaf]
        return BindingCertificate.create(leaf, private_key, order_chain(leaf, others))
    except (ValueError, UnsupportedAlgorithm) as error:
        raise MalformedCredentialError(
            f"a certificate in {what} cannot be read", key=key
        ) from error


def order_chain(
    leaf: x509.Certificate, others: Sequence[x509.Certificate]
) -> tuple[x509.Certificate, ...]:
    """Order the chain from the leaf's issuer towards the root; unrelated certificates last."""
    remaining = list(others)
    ordered: list[x509.Certificate] = []
    current = leaf
    while True:
        parent = next((c for c in remaining if c.subject == current.issuer), None)
        if parent is None or parent.subject == current.subject:
            break
        ordered.append(parent)
        remaining.remove(parent)
        current = parent
    return (*ordered, *remaining)


def check_validity(
    certificate: BindingCertificate, now: float, *, what: str, key: str
) -> BindingCertificate:
    """Refuse a certificate outside its validity window at `now` (epoch seconds)."""
    moment = datetime.fromtimestamp(now, UTC)
    if moment > certificate.not_after:
        raise CertificateExpiredError(
            f"{what} (subject '{certificate.subject}', x5t#S256 {certificate.x5t_s256}) expired "
            f"on {certificate.not_after.isoformat()}; renew it or point to the current one",
            key=key,
        )
    if moment < certificate.not_before:
        raise CertificateNotYetValidError(
            f"{what} (subject '{certificate.subject}', x5t#S256 {certificate.x5t_s256}) is not "
            f"valid before {certificate.not_before.isoformat()}; check the clock or the file",
            key=key,
        )
    return certificate
