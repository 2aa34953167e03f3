"""The emulated IMDS v2 credential endpoints: `getplatformmetadata` and `issuecredential` (§5).

`issuecredential` checks the CSR the way a strict-but-fair IMDS would (`_csr`, wire-protocol
§5.4 and §10) and the attestation token as `state.attestation_mode` says (`_attestation`). It
then issues a certificate from `state.imds_issuer` over the CSR's key: subject
`CN=<client id>, DC=<tenant>`, `state.config.imds_certificate_days` long (7 days by default).
`getplatformmetadata` names the emulator's attestation authority as `attestationEndpoint`.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from identity_web.emulator._attestation import AttestationMode, AttestationRejectedError
from identity_web.emulator._csr import CsrRejectedError, verify_csr
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

__all__ = ["CsrRejectedError", "ImdsV2Endpoints", "verify_csr"]

MISSING_ATTESTATION = "Attestation Token is missing / empty in the issue credential request"


class ImdsV2Endpoints:
    """`getplatformmetadata` and `issuecredential` of one VM."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

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
                "attestationEndpoint": self.state.attestation.endpoint,
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
        mode = self.state.attestation_mode
        token = body.get("attestation_token")
        if mode is AttestationMode.REQUIRED and not token:
            return invalid_request(MISSING_ATTESTATION)
        try:
            key = verify_csr(
                csr, client_id=identity.client_id, tenant_id=self.state.tenant_id, cu_id=cu_id
            )
        except CsrRejectedError as error:
            return invalid_request(f"Invalid CSR: {error}")
        if mode is not AttestationMode.OFF and token:
            refused = self._check_attestation(token, key)
            if refused is not None:
                return refused
        return imds_json(200, self._credential(identity, key, mtls_endpoint))

    def _check_attestation(self, token: object, key: rsa.RSAPublicKey) -> EmulatorResponse | None:
        """None when `token` is a valid attestation of `key`, else IMDS's 400."""
        if not isinstance(token, str):
            return invalid_request("Attestation Token must be a string")
        try:
            self.state.attestation.verify(token, key)
        except AttestationRejectedError as error:
            return invalid_request(f"Attestation Token is invalid: {error}")
        return None

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
