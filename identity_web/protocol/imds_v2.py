"""IMDS v2: the credential endpoints and the CSR that turn a managed identity into an mTLS
binding certificate (wire-protocol §5).

`getplatformmetadata` → PKCS#10 CSR over a fresh RSA-2048 key → `issuecredential` → token
request to `{mtls_authentication_endpoint}/{tenant_id}/oauth2/v2.0/token` over mTLS. This
module builds and parses the IMDS steps; the token leg is `protocol.oauth2`'s client-credentials
request and parser, with the IMDS certificate as the TLS client identity.
`identity_web.managed_identity._client` holds the certificate cache and chains the steps.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.x509.name import _ASN1Type  # the string type of an RDN (cryptography's name)
from cryptography.x509.oid import NameOID, ObjectIdentifier

from identity_web._errors import ManagedIdentityError
from identity_web.protocol._binding import BindingCertificate
from identity_web.protocol._http import HttpRequest, HttpResponse, RetryPolicy
from identity_web.protocol._tokens import TokenResponse
from identity_web.protocol.imds import (
    IMDS_TIMEOUT,
    ManagedIdentityId,
    body_excerpt,
    compact_json,
    refresh_on_for,
    request_id_headers,
)
from identity_web.protocol.oauth2 import ClientCredentialsRequest, client_credentials_flow
from identity_web.protocol.rfc8705 import mtls_pop_request
from identity_web.protocol.steps import Step

PLATFORM_METADATA_PATH = "/metadata/identity/getplatformmetadata"
ISSUE_CREDENTIAL_PATH = "/metadata/identity/issuecredential"
CRED_API_VERSION = "2.0"
V2_RESOURCE_ID_PARAMETER = "mi_res_id"
"""MSAL.NET's spelling of the resource id selector on the v2 endpoints (PY uses msi_res_id)."""

CUID_ATTRIBUTE_OID = ObjectIdentifier("1.3.6.1.4.1.311.90.2.10")
RSA_KEY_SIZE = 2048
PSS_SALT_LENGTH = 32


def csr_padding() -> padding.PSS:
    """RSASSA-PSS with SHA-256, MGF1-SHA-256 and a 32-byte salt (§5.4)."""
    return padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=PSS_SALT_LENGTH)


def generate_key() -> rsa.RSAPrivateKey:
    """The in-memory key the IMDS certificate is issued over: RSA 2048, e = 65537."""
    return rsa.generate_private_key(public_exponent=65537, key_size=RSA_KEY_SIZE)


@dataclass(frozen=True, slots=True)
class PlatformMetadata:
    """The `getplatformmetadata` answer (camelCase on the wire; snake_case tolerated)."""

    client_id: str
    tenant_id: str
    cu_id: Mapping[str, Any]
    attestation_endpoint: str


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """The `issuecredential` answer, with the certificate joined to our private key."""

    client_id: str
    tenant_id: str
    binding: BindingCertificate
    identity_type: str
    mtls_authentication_endpoint: str

    @property
    def token_endpoint(self) -> str:
        """`{mtls_authentication_endpoint}/{tenant_id}/oauth2/v2.0/token` (§5.7)."""
        base = self.mtls_authentication_endpoint.rstrip("/")
        return f"{base}/{self.tenant_id.strip('/')}/oauth2/v2.0/token"


def _v2_url(base: str, path: str, identity: ManagedIdentityId) -> str:
    params = {"cred-api-version": CRED_API_VERSION} | identity.query(V2_RESOURCE_ID_PARAMETER)
    return f"{base}{path}?{urlencode(params)}"


def platform_metadata_request(
    base: str, identity: ManagedIdentityId, retry: RetryPolicy | None
) -> HttpRequest:
    return HttpRequest(
        "GET",
        _v2_url(base, PLATFORM_METADATA_PATH, identity),
        headers={"Metadata": "true", **request_id_headers()},
        retry=retry,
        timeout=IMDS_TIMEOUT,
        direct=True,
    )


def platform_metadata_probe_request(base: str, timeout: float) -> HttpRequest:
    """`getplatformmetadata` without `Metadata: true`: 400 = IMDS v2 present, 404 = v1 only."""
    return HttpRequest(
        "GET",
        _v2_url(base, PLATFORM_METADATA_PATH, ManagedIdentityId()),
        headers=request_id_headers(),
        timeout=timeout,
        direct=True,
    )


def _require_imds_server(response: HttpResponse, step: str) -> None:
    if "imds" not in response.header("server").lower():
        raise ManagedIdentityError(
            f"The {step} answer did not come from IMDS (Server header "
            f"{response.header('server')!r} does not name IMDS); refusing to use it. Check "
            "AZURE_POD_IDENTITY_AUTHORITY_HOST."
        )


def _field(body: Mapping[str, Any], camel: str, snake: str) -> Any:
    return body[camel] if body.get(camel) not in (None, "") else body.get(snake)


def parse_platform_metadata(
    response: HttpResponse, identity: ManagedIdentityId
) -> PlatformMetadata:
    """Validate and read `getplatformmetadata`; a 404 (still there after the IMDS retries)
    means the host only has IMDS v1."""
    if response.status == 404:
        raise ManagedIdentityError(
            "mTLS PoP for managed identity needs IMDS v2, but this host only has IMDS v1 "
            "(getplatformmetadata answered 404). Use ProtocolScheme Bearer on this host, or "
            "run on a VM/VMSS that offers the IMDS v2 credential endpoint."
        )
    body = _answer(response, identity, "getplatformmetadata")
    cu_id = _field(body, "cuId", "cu_id")
    values = {
        "clientId": _field(body, "clientId", "client_id"),
        "tenantId": _field(body, "tenantId", "tenant_id"),
        "attestationEndpoint": _field(body, "attestationEndpoint", "attestation_endpoint"),
    }
    missing = [name for name, value in values.items() if not isinstance(value, str) or not value]
    if not isinstance(cu_id, dict) or not any(cu_id.values()):
        missing.insert(0, "cuId")
    if missing:
        raise ManagedIdentityError(
            f"IMDS v2 getplatformmetadata answer is missing {', '.join(missing)}; the answer "
            "is malformed."
        )
    return PlatformMetadata(
        values["clientId"], values["tenantId"], cu_id, values["attestationEndpoint"]
    )


def _answer(response: HttpResponse, identity: ManagedIdentityId, step: str) -> dict[str, Any]:
    """The JSON object of a 200 answer from IMDS itself, or a `ManagedIdentityError`."""
    if response.status != 200:
        raise ManagedIdentityError(
            f"IMDS v2 {step} for {identity.describe()} failed with HTTP "
            f"{response.status}: {body_excerpt(response) or '(empty body)'}"
        )
    _require_imds_server(response, step)
    return _json_object(response, step)


def _json_object(response: HttpResponse, step: str) -> dict[str, Any]:
    body = response.json_object()
    if body is None:
        raise ManagedIdentityError(f"IMDS v2 {step} answer is not JSON (an object).")
    return body


_PRINTABLE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")


def _string_type(value: str) -> _ASN1Type:
    """PrintableString when `value` fits its alphabet (X.680), else UTF8String."""
    return _ASN1Type.PrintableString if _PRINTABLE.fullmatch(value) else _ASN1Type.UTF8String


def build_csr(key: rsa.RSAPrivateKey, metadata: PlatformMetadata) -> str:
    """The PKCS#10 request of §5.4, as single-line standard base64 of the DER.

    Subject `CN=<clientId>, DC=<tenantId>` encoded as MSAL.NET's
    `X500DistinguishedName("CN=…, DC=…")` encodes it on Windows: the constructor's default
    `Reversed` flag puts the DC RDN first, and CertStrToName types it IA5String; the CN RDN
    second, PrintableString when the client id allows it (a GUID does), else UTF8String.
    docs/managed-identity.md ("CSR layout") names the .NET source lines.
    Attribute 1.3.6.1.4.1.311.90.2.10 = compact JSON of `cuId` as a UTF8String, signed
    RSASSA-PSS SHA-256 / MGF1-SHA-256 / salt 32.
    """
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.DOMAIN_COMPONENT, metadata.tenant_id),
            x509.NameAttribute(
                NameOID.COMMON_NAME, metadata.client_id, _type=_string_type(metadata.client_id)
            ),
        ]
    )
    cu_id = compact_json(dict(metadata.cu_id)).encode("utf-8")
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(subject)
        .add_attribute(CUID_ATTRIBUTE_OID, cu_id)  # UTF8String is the default tag
        .sign(key, hashes.SHA256(), rsa_padding=csr_padding())
    )
    return base64.b64encode(csr.public_bytes(serialization.Encoding.DER)).decode("ascii")


def issue_credential_request(
    base: str,
    identity: ManagedIdentityId,
    csr: str,
    attestation_token: str,
    retry: RetryPolicy | None,
) -> HttpRequest:
    """POST the CSR; `attestation_token` is "" when no attestation provider is configured."""
    return HttpRequest(
        "POST",
        _v2_url(base, ISSUE_CREDENTIAL_PATH, identity),
        headers={
            "Metadata": "true",
            "Content-Type": "application/json; charset=utf-8",
            **request_id_headers(),
        },
        json_body={"csr": csr, "attestation_token": attestation_token},
        retry=retry,
        timeout=IMDS_TIMEOUT,
        direct=True,
    )


_ISSUED_FIELDS = (
    "client_id",
    "tenant_id",
    "certificate",
    "identity_type",
    "mtls_authentication_endpoint",
)


def parse_issued_credential(
    response: HttpResponse, key: rsa.RSAPrivateKey, identity: ManagedIdentityId
) -> IssuedCredential:
    """Read `issuecredential`: five non-empty snake_case fields, a certificate over our key."""
    body = _answer(response, identity, "issuecredential")
    missing = [
        name for name in _ISSUED_FIELDS if not isinstance(body.get(name), str) or not body[name]
    ]
    if missing:
        raise ManagedIdentityError(
            f"IMDS v2 issuecredential answer is malformed: missing {', '.join(missing)}."
        )
    certificate = _load_certificate(body["certificate"])
    if _spki(certificate.public_key()) != _spki(key.public_key()):
        raise ManagedIdentityError(
            "IMDS v2 issued a certificate whose public key is not the key of our CSR; "
            "refusing to use it."
        )
    return IssuedCredential(
        client_id=body["client_id"],
        tenant_id=body["tenant_id"],
        binding=BindingCertificate.create(certificate, key),
        identity_type=body["identity_type"],
        mtls_authentication_endpoint=body["mtls_authentication_endpoint"],
    )


def _spki(key: CertificatePublicKeyTypes) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _load_certificate(encoded: str) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(base64.b64decode(encoded, validate=True))
    except (ValueError, binascii.Error) as error:
        raise ManagedIdentityError(
            "IMDS v2 issuecredential 'certificate' is not base64 DER of an X.509 certificate."
        ) from error


def mtls_scope(resource: str) -> str:
    """`resource/.default`, trailing slashes trimmed; a scope passes through unchanged."""
    if resource.endswith("/.default"):
        return resource
    return resource.rstrip("/") + "/.default"


def mtls_token_request(
    credential: IssuedCredential, resource: str, *, claims: str | None
) -> ClientCredentialsRequest:
    """The ESTS client-credentials request over mTLS with the IMDS-issued certificate (§5.7).

    No client secret or assertion: the TLS client certificate authenticates the identity.
    """
    base = ClientCredentialsRequest(
        token_endpoint=credential.token_endpoint,
        client_id=credential.client_id,
        scope=mtls_scope(resource),
        claims=claims,
    )
    return mtls_pop_request(base, credential.binding)


def mtls_token_flow(
    credential: IssuedCredential,
    resource: str,
    *,
    claims: str | None,
    now: float,
    retry: RetryPolicy | None,
) -> Step[TokenResponse]:
    """The §5.7 leg, sent and parsed by `protocol.oauth2` (fail closed unless `mtls_pop`).

    `expires_in` is relative here, unlike IMDS v1's `expires_on`. Without `refresh_in`, a token
    living longer than two hours is refreshed at half its lifetime, as other managed identity
    tokens are.
    """
    request = mtls_token_request(credential, resource, claims=claims)
    token = yield from client_credentials_flow(request, now=now, retry=retry)
    if token.refresh_on is None:
        token = replace(token, refresh_on=refresh_on_for(token.expires_on, now))
    return token
