"""The emulated IMDS v2 credential endpoints: `getplatformmetadata` and `issuecredential` (§5).

`issuecredential` checks the CSR the way a strict-but-fair IMDS would (wire-protocol §5.4 and
§10): RSASSA-PSS SHA-256 / MGF1-SHA-256 / salt 32 signature over the request info (the hash
AlgorithmIdentifier may carry NULL parameters or none), an RSA-2048 key, a subject holding
`CN=<client id>` and `DC=<tenant id>` in either order and any string type, and the
1.3.6.1.4.1.311.90.2.10 attribute whose JSON equals the compute unit id. It then issues a
certificate from `state.imds_issuer` over the CSR's key: subject `CN=<client id>, DC=<tenant>`,
`state.config.imds_certificate_days` long (7 days by default).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID, ObjectIdentifier, SignatureAlgorithmOID

from identity_web.emulator._directory import ManagedIdentity
from identity_web.emulator._imds_common import (
    CRED_API_VERSIONS,
    imds_json,
    invalid_request,
    select_identity,
    version_error,
)
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse

CUID_ATTRIBUTE_OID = ObjectIdentifier("1.3.6.1.4.1.311.90.2.10")
ATTESTATION_ENDPOINT = "https://attestation.emulator.invalid"
REQUIRED_KEY_SIZE = 2048


class CsrRejectedError(ValueError):
    """The CSR does not meet IMDS's rules; the message says which one."""


def _pss() -> padding.PSS:
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)


def _decode(encoded: str) -> x509.CertificateSigningRequest:
    try:
        der = base64.b64decode(encoded.strip(), validate=True)
        return x509.load_der_x509_csr(der)
    except (ValueError, binascii.Error) as error:
        raise CsrRejectedError("csr is not base64 DER of a PKCS#10 request") from error


def _check_signature(csr: x509.CertificateSigningRequest) -> rsa.RSAPublicKey:
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
    csr = _decode(encoded)
    key = _check_signature(csr)
    _check_subject(csr, client_id, tenant_id)
    _check_cu_id(csr, cu_id)
    return key


class ImdsV2Endpoints:
    """`getplatformmetadata` and `issuecredential`; `require_attestation` makes the VM
    demand a non-empty `attestation_token`."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.require_attestation = False

    def _identity(self, request: EmulatorRequest) -> ManagedIdentity | EmulatorResponse:
        """The selected identity, or the 400 both credential endpoints answer."""
        refused = version_error(request.query, "cred-api-version", CRED_API_VERSIONS)
        if refused is not None:
            return refused
        return select_identity(self.state, request.query)

    def platform_metadata(
        self, request: EmulatorRequest, cu_id: Mapping[str, str]
    ) -> EmulatorResponse:
        identity = self._identity(request)
        if isinstance(identity, EmulatorResponse):
            return identity
        return imds_json(
            200,
            {
                "cuId": dict(cu_id),
                "clientId": identity.client_id,
                "tenantId": self.state.tenant_id,
                "attestationEndpoint": ATTESTATION_ENDPOINT,
            },
        )

    def issue_credential(
        self, request: EmulatorRequest, cu_id: Mapping[str, str], mtls_endpoint: str
    ) -> EmulatorResponse:
        identity = self._identity(request)
        if isinstance(identity, EmulatorResponse):
            return identity
        body = _json_body(request) or {}
        csr = body.get("csr")
        if not isinstance(csr, str) or not csr:
            return invalid_request("The issue credential request has no csr")
        if self.require_attestation and not body.get("attestation_token"):
            return invalid_request(
                "Attestation Token is missing / empty in the issue credential request"
            )
        try:
            key = verify_csr(
                csr, client_id=identity.client_id, tenant_id=self.state.tenant_id, cu_id=cu_id
            )
        except CsrRejectedError as error:
            return invalid_request(f"Invalid CSR: {error}")
        return imds_json(200, self._credential(identity, key, mtls_endpoint))

    def _credential(
        self, identity: ManagedIdentity, key: rsa.RSAPublicKey, mtls_endpoint: str
    ) -> dict[str, str]:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, identity.client_id),
                x509.NameAttribute(NameOID.DOMAIN_COMPONENT, self.state.tenant_id),
            ]
        )
        certificate = self.state.imds_issuer.issue(
            key, subject, days=self.state.config.imds_certificate_days
        )
        der = certificate.public_bytes(serialization.Encoding.DER)
        return {
            "client_id": identity.client_id,
            "tenant_id": self.state.tenant_id,
            "certificate": base64.b64encode(der).decode("ascii"),
            "identity_type": identity.kind,
            "mtls_authentication_endpoint": mtls_endpoint,
        }


def _json_body(request: EmulatorRequest) -> dict[str, Any] | None:
    try:
        body = request.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None
