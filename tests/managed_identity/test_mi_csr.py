"""The IMDS v2 CSR (wire-protocol §5.4): our builder checked independently, and the emulator's
verifier checked for strictness where it matters and leniency where SDKs differ (§10)."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier, SignatureAlgorithmOID

from identity_web.emulator.imds_v2 import CsrRejectedError, verify_csr
from identity_web.protocol.imds_v2 import PlatformMetadata, build_csr

CLIENT_ID = "d3adb33f-c0de-ed0c-c0de-deadb33fc0d3"
TENANT_ID = "751a212b-4003-416e-b600-e1f48e40db9f"
CU_ID = {"vmId": "fake_vmId", "vmssId": "fake_vmssId"}
OID = ObjectIdentifier("1.3.6.1.4.1.311.90.2.10")
PSS_ALGID_WITH_NULL = bytes.fromhex(
    "304106092a864886f70d01010a3034a00f300d06096086480165030402010500"
    "a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120"
)
PSS_ALGID_WITHOUT_NULL = bytes.fromhex(
    "303d06092a864886f70d01010a3030a00d300b0609608648016503040201"
    "a11a301806092a864886f70d010108300b0609608648016503040201a203020120"
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def metadata() -> PlatformMetadata:
    return PlatformMetadata(CLIENT_ID, TENANT_ID, CU_ID, "https://attest.example")


def test_csr_is_single_line_standard_base64_der(key: rsa.RSAPrivateKey) -> None:
    encoded = build_csr(key, metadata())
    assert "\n" not in encoded
    assert not encoded.startswith("-----")
    base64.b64decode(encoded, validate=True)


def test_csr_signature_is_rsassa_pss_sha256_mgf1_sha256_salt32(key: rsa.RSAPrivateKey) -> None:
    der = base64.b64decode(build_csr(key, metadata()))
    csr = x509.load_der_x509_csr(der)
    assert csr.signature_algorithm_oid == SignatureAlgorithmOID.RSASSA_PSS
    # The exact parameters as DER: sha256, mgf1(sha256), saltLength 32, no trailerField.
    assert PSS_ALGID_WITH_NULL in der
    exact = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
    key.public_key().verify(csr.signature, csr.tbs_certrequest_bytes, exact, hashes.SHA256())
    wrong_salt = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)
    with pytest.raises(InvalidSignature):
        key.public_key().verify(
            csr.signature, csr.tbs_certrequest_bytes, wrong_salt, hashes.SHA256()
        )


def test_csr_subject_key_and_cuid_attribute(key: rsa.RSAPrivateKey) -> None:
    der = base64.b64decode(build_csr(key, metadata()))
    csr = x509.load_der_x509_csr(der)
    attributes = [(a.oid, a.value, a._type) for a in csr.subject]
    assert attributes == [
        (NameOID.DOMAIN_COMPONENT, TENANT_ID, _ASN1Type.IA5String),
        (NameOID.COMMON_NAME, CLIENT_ID, _ASN1Type.PrintableString),
    ]
    assert csr.subject.rfc4514_string() == f"CN={CLIENT_ID},DC={TENANT_ID}"
    public = csr.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    assert public.key_size == 2048
    assert public.public_numbers().e == 65537
    assert public.public_numbers() == key.public_key().public_numbers()
    attribute = csr.attributes.get_attribute_for_oid(OID)
    assert attribute._type == _ASN1Type.UTF8String.value
    assert attribute.value == b'{"vmId":"fake_vmId","vmssId":"fake_vmssId"}'
    # The attribute is a SET holding one UTF8String (tag 0x0c) of the compact JSON.
    encoded_value = b"\x0c" + bytes([len(attribute.value)]) + attribute.value
    assert b"\x31" + bytes([len(encoded_value)]) + encoded_value in der


def test_emulator_accepts_our_csr(key: rsa.RSAPrivateKey) -> None:
    public = verify_csr(
        build_csr(key, metadata()), client_id=CLIENT_ID, tenant_id=TENANT_ID, cu_id=CU_ID
    )
    assert public.public_numbers() == key.public_key().public_numbers()


def _sign(
    key: rsa.RSAPrivateKey,
    names: list[x509.NameAttribute],
    *,
    cu_id: bytes = json.dumps(CU_ID).encode(),
    tag: _ASN1Type = _ASN1Type.UTF8String,
    pad: padding.AsymmetricPadding | None = None,
) -> bytes:
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(names))
        .add_attribute(OID, cu_id, _tag=tag)
        .sign(
            key,
            hashes.SHA256(),
            rsa_padding=pad or padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        )
    )
    return csr.public_bytes(serialization.Encoding.DER)


def _b64(der: bytes) -> str:
    return base64.b64encode(der).decode()


def _verify(der: bytes) -> None:
    verify_csr(_b64(der), client_id=CLIENT_ID, tenant_id=TENANT_ID, cu_id=CU_ID)


def test_emulator_is_lenient_on_rdn_order_and_string_types(key: rsa.RSAPrivateKey) -> None:
    names = [
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, TENANT_ID, _type=_ASN1Type.UTF8String),
        x509.NameAttribute(NameOID.COMMON_NAME, CLIENT_ID.upper(), _type=_ASN1Type.PrintableString),
    ]
    _verify(
        _sign(
            key,
            names,
            cu_id=b'{ "vmssId": "fake_vmssId", "vmId": "fake_vmId" }',
            tag=_ASN1Type.IA5String,
        )
    )


def test_emulator_accepts_pss_hash_parameters_without_null(key: rsa.RSAPrivateKey) -> None:
    der = base64.b64decode(build_csr(key, metadata()))
    patched = der.replace(PSS_ALGID_WITH_NULL, PSS_ALGID_WITHOUT_NULL)
    assert patched != der
    assert der[1] == 0x82
    length = int.from_bytes(patched[2:4], "big") - (
        len(PSS_ALGID_WITH_NULL) - len(PSS_ALGID_WITHOUT_NULL)
    )
    patched = patched[:2] + length.to_bytes(2, "big") + patched[4:]
    _verify(patched)


def good_names() -> list[x509.NameAttribute]:
    return [
        x509.NameAttribute(NameOID.COMMON_NAME, CLIENT_ID),
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, TENANT_ID),
    ]


def test_emulator_refuses_pkcs1v15(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(CsrRejectedError, match="RSASSA-PSS"):
        _verify(_sign(key, good_names(), pad=padding.PKCS1v15()))


def test_emulator_refuses_another_salt_length(key: rsa.RSAPrivateKey) -> None:
    pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=20)
    with pytest.raises(CsrRejectedError, match="salt 32"):
        _verify(_sign(key, good_names(), pad=pad))


def test_emulator_refuses_a_tampered_request_info(key: rsa.RSAPrivateKey) -> None:
    der = bytearray(base64.b64decode(build_csr(key, metadata())))
    index = der.index(CLIENT_ID.encode())
    der[index] ^= 0x01
    with pytest.raises(CsrRejectedError):
        _verify(bytes(der))


def test_emulator_refuses_wrong_subject(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(CsrRejectedError, match="CN"):
        _verify(
            _sign(
                key,
                [x509.NameAttribute(NameOID.COMMON_NAME, "managed-identity-csr"), good_names()[1]],
            )
        )
    with pytest.raises(CsrRejectedError, match="DC"):
        _verify(_sign(key, good_names()[:1]))


def test_emulator_refuses_wrong_or_missing_cuid(key: rsa.RSAPrivateKey) -> None:
    with pytest.raises(CsrRejectedError, match="does not match"):
        _verify(_sign(key, good_names(), cu_id=b'{"vmId":"other"}'))
    with pytest.raises(CsrRejectedError, match="not JSON"):
        _verify(_sign(key, good_names(), cu_id=b"fake_vmId"))
    no_attribute = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name(good_names()))
        .sign(
            key,
            hashes.SHA256(),
            rsa_padding=padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        )
    )
    with pytest.raises(CsrRejectedError, match="lacks"):
        _verify(no_attribute.public_bytes(serialization.Encoding.DER))


def test_emulator_refuses_small_keys() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - a weak key the verifier must refuse
    with pytest.raises(CsrRejectedError, match="2048"):
        _verify(_sign(small, good_names()))


def test_emulator_refuses_garbage() -> None:
    with pytest.raises(CsrRejectedError, match="base64 DER"):
        verify_csr("not-base64!", client_id=CLIENT_ID, tenant_id=TENANT_ID, cu_id=CU_ID)


def test_csr_subject_der_is_pinned_to_msal_net_order(key: rsa.RSAPrivateKey) -> None:
    """MSAL.NET's X500DistinguishedName("CN=<client>, DC=<tenant>") on Windows: the default
    `Reversed` flag becomes CERT_NAME_STR_REVERSE_FLAG, so the DER holds DC first, then CN, and
    CertStrToName types DC as IA5String and a GUID CN as PrintableString. These are the bytes
    (docs/managed-identity.md, "CSR layout", names the source lines)."""
    client, tenant = "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    der = base64.b64decode(build_csr(key, PlatformMetadata(client, tenant, CU_ID, "")))
    dc = bytes.fromhex("3134 3032 060a0992268993f22c640119 1624") + tenant.encode()
    cn = bytes.fromhex("312d 302b 0603550403 1324") + client.encode()
    subject = bytes.fromhex("3065") + dc + cn
    assert subject in der
    assert x509.load_der_x509_csr(der).subject.public_bytes() == subject


def test_emulator_accepts_the_subject_dotnet_writes_on_linux(key: rsa.RSAPrivateKey) -> None:
    """.NET's managed X500NameEncoder (Linux, macOS) keeps the reversed order but writes DC as
    PrintableString (IA5String only for emailAddress): IMDS must take both spellings."""
    client, tenant = "11111111-2222-3333-4444-555555555555", "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    names = [
        x509.NameAttribute(NameOID.DOMAIN_COMPONENT, tenant, _type=_ASN1Type.PrintableString),
        x509.NameAttribute(NameOID.COMMON_NAME, client, _type=_ASN1Type.PrintableString),
    ]
    der = _sign(key, names)
    dc = bytes.fromhex("3134 3032 060a0992268993f22c640119 1324") + tenant.encode()
    assert bytes.fromhex("3065") + dc in der
    verify_csr(_b64(der), client_id=client, tenant_id=tenant, cu_id=CU_ID)
