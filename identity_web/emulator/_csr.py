"""IMDS v2 CSR checks (wire-protocol.md §5.4), shared by `issuecredential` and the attestation
authority: RSASSA-PSS SHA-256 / MGF1-SHA-256 / salt 32 over the request info (the hash
AlgorithmIdentifier may carry NULL parameters or none), an RSA-2048 key, a subject holding
`CN=<client id>` and `DC=<tenant id>` in either order and any string type, and the
1.3.6.1.4.1.311.90.2.10 attribute whose JSON equals the compute unit id.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier, SignatureAlgorithmOID

CUID_ATTRIBUTE_OID = ObjectIdentifier("1.3.6.1.4.1.311.90.2.10")
REQUIRED_KEY_SIZE = 2048


class CsrRejectedError(ValueError):
    """The CSR does not meet IMDS's rules; the message says which one."""


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def decode(encoded: str) -> x509.CertificateSigningRequest:
    try:
        der = base64.b64decode(encoded.strip(), validate=True)
        return x509.load_der_x509_csr(der)
    except (ValueError, binascii.Error) as error:
        raise CsrRejectedError("csr is not base64 DER of a PKCS#10 request") from error


def check_signature(csr: x509.CertificateSigningRequest) -> rsa.RSAPublicKey:
    if csr.signature_algorithm_oid != SignatureAlgorithmOID.RSASSA_PSS:
        raise CsrRejectedError("csr must be signed with RSASSA-PSS (1.2.840.113549.1.1.10)")
    if not isinstance(csr.signature_hash_algorithm, hashes.SHA256):
        raise CsrRejectedError("csr PSS signature must use SHA-256")
    key = csr.public_key()
    if not isinstance(key, rsa.RSAPublicKey) or key.key_size != REQUIRED_KEY_SIZE:
        raise CsrRejectedError("csr key must be RSA 2048")
    try:
        key.verify(csr.signature, csr.tbs_certrequest_bytes, _pss(), hashes.SHA256())
    except InvalidSignature as error:
        raise CsrRejectedError(
            "csr signature does not verify as RSASSA-PSS SHA-256/MGF1-SHA-256/salt 32"
        ) from error
    return key


def _names(csr: x509.CertificateSigningRequest, oid: ObjectIdentifier) -> list[str]:
    values = csr.subject.get_attributes_for_oid(oid)
    return [str(v.value) for v in values]


def _check_subject(csr: x509.CertificateSigningRequest, client_id: str, tenant_id: str) -> None:
    common_names = [n.lower() for n in _names(csr, NameOID.COMMON_NAME)]
    components = [n.lower() for n in _names(csr, NameOID.DOMAIN_COMPONENT)]
    if common_names != [client_id.lower()]:
        raise CsrRejectedError(
            "csr subject must hold exactly one CN, the managed identity client id"
        )
    if components != [tenant_id.lower()]:
        raise CsrRejectedError("csr subject must hold exactly one DC, the tenant id")


def _check_cu_id(csr: x509.CertificateSigningRequest, cu_id: Mapping[str, Any]) -> None:
    try:
        attribute = csr.attributes.get_attribute_for_oid(CUID_ATTRIBUTE_OID)
    except x509.AttributeNotFound as error:
        raise CsrRejectedError("csr lacks the 1.3.6.1.4.1.311.90.2.10 (cuId) attribute") from error
    try:
        value = json.loads(attribute.value.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise CsrRejectedError("csr cuId attribute is not JSON") from error
    if value != dict(cu_id):
        raise CsrRejectedError("csr cuId attribute does not match this compute unit")


def verify_csr(
    encoded: str, *, client_id: str, tenant_id: str, cu_id: Mapping[str, Any]
) -> rsa.RSAPublicKey:
    """Check a base64 DER CSR against §5.4; returns its public key or raises `CsrRejectedError`."""
    csr = decode(encoded)
    key = check_signature(csr)
    _check_subject(csr, client_id, tenant_id)
    _check_cu_id(csr, cu_id)
    return key
