"""Certificate and secret loaders: formats, passwords, validity, and the errors users see."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from certgen import (
    DAY,
    Issued,
    make_ca,
    make_leaf,
    make_self_signed,
    pem_bytes,
    pfx_bytes,
    utcnow,
    write_pem,
    write_pfx,
)

from identity_web import CredentialError
from identity_web.credentials import (
    Base64EncodedCertificateLoader,
    CertificateCredential,
    CertificateExpiredError,
    CertificateNotYetValidError,
    ClientSecretLoader,
    CredentialFileError,
    IncompleteCredentialError,
    MalformedCredentialError,
    MissingPrivateKeyError,
    PathCertificateLoader,
    SecretCredential,
    SignedAssertion,
    WrongPasswordError,
)
from identity_web.credentials import path as path_module
from identity_web.credentials._types import redacted
from identity_web.settings import CredentialDescription

PASSWORD = "s3cr3t-Pa55word!"


def describe(**keys: Any) -> CredentialDescription:
    return CredentialDescription.model_validate(keys)


def path_entry(path: Path | str, password: str | None = None) -> CredentialDescription:
    return describe(SourceType="Path", CertificateDiskPath=str(path), CertificatePassword=password)


@pytest.fixture(scope="module")
def pki() -> dict[str, Issued]:
    root = make_ca("root")
    intermediate = make_ca("intermediate", issuer=root)
    return {
        "root": root,
        "intermediate": intermediate,
        "leaf": make_leaf(intermediate, "app"),
        "rsa_leaf": make_leaf(root, "rsa app", key_type="rsa"),
    }


def load_path(path: Path | str, password: str | None = None) -> CertificateCredential:
    return PathCertificateLoader().load(path_entry(path, password))


def test_pfx_without_password_loads_with_its_thumbprint(tmp_path: Path, pki: dict[str, Issued]):
    path = write_pfx(tmp_path / "app.pfx", pki["leaf"])
    credential = load_path(path)
    expected = base64.urlsafe_b64encode(hashlib.sha256(pki["leaf"].der).digest()).rstrip(b"=")
    assert credential.certificate.x5t_s256 == expected.decode()
    assert credential.description_id == f"Path={path}"


def test_pfx_with_password_and_chain_orders_the_chain(tmp_path: Path, pki: dict[str, Issued]):
    chain = (pki["root"], pki["intermediate"])  # deliberately root first
    path = write_pfx(tmp_path / "app.pfx", pki["leaf"], password=PASSWORD, chain=chain)
    certificate = load_path(path, PASSWORD).certificate
    assert certificate.certificate == pki["leaf"].certificate
    subjects = [c.subject.rfc4514_string() for c in certificate.chain]
    assert subjects == ["CN=intermediate", "CN=root"]


def test_rsa_pfx_loads(tmp_path: Path, pki: dict[str, Issued]):
    path = write_pfx(tmp_path / "rsa.pfx", pki["rsa_leaf"], password=PASSWORD)
    assert load_path(path, PASSWORD).certificate.subject == "CN=rsa app"


def test_pfx_needing_a_password_says_so_without_revealing_anything(
    tmp_path: Path, pki: dict[str, Issued]
):
    path = write_pfx(tmp_path / "app.pfx", pki["leaf"], password=PASSWORD)
    with pytest.raises(WrongPasswordError) as missing:
        load_path(path)
    assert "CertificatePassword" in str(missing.value)
    assert "required" in str(missing.value)
    with pytest.raises(WrongPasswordError) as wrong:
        load_path(path, "not-" + PASSWORD)
    assert "wrong" in str(wrong.value)
    assert PASSWORD not in str(wrong.value)
    assert str(path) in str(wrong.value)


def test_password_given_for_a_pfx_without_one_is_tolerated(tmp_path: Path, pki: dict[str, Issued]):
    path = write_pfx(tmp_path / "app.pfx", pki["leaf"])
    assert load_path(path, PASSWORD).certificate.subject == "CN=app"


def test_pfx_without_private_key_is_refused(tmp_path: Path, pki: dict[str, Issued]):
    path = write_pfx(tmp_path / "nokey.pfx", pki["leaf"], include_key=False)
    with pytest.raises(MissingPrivateKeyError, match="no private key"):
        load_path(path)


@pytest.mark.parametrize("key_first", [False, True])
def test_pem_with_key_and_chain_in_any_order(
    tmp_path: Path, pki: dict[str, Issued], key_first: bool
):
    data = pem_bytes(pki["root"], include_key=False) + pem_bytes(
        pki["leaf"], chain=(pki["intermediate"],), key_first=key_first
    )
    path = tmp_path / "app.pem"
    path.write_bytes(data)
    certificate = load_path(path).certificate
    assert certificate.certificate == pki["leaf"].certificate
    assert [c.subject.rfc4514_string() for c in certificate.chain] == [
        "CN=intermediate",
        "CN=root",
    ]


def test_pem_with_encrypted_key(tmp_path: Path, pki: dict[str, Issued]):
    path = write_pem(tmp_path / "app.pem", pki["leaf"], key_password=PASSWORD)
    assert load_path(path, PASSWORD).certificate.subject == "CN=app"
    with pytest.raises(WrongPasswordError, match="not set"):
        load_path(path)
    with pytest.raises(WrongPasswordError, match="wrong") as wrong:
        load_path(path, "nope")
    assert PASSWORD not in str(wrong.value)


def test_pem_without_key_or_with_a_foreign_key_is_refused(tmp_path: Path, pki: dict[str, Issued]):
    bare = write_pem(tmp_path / "bare.pem", pki["leaf"], include_key=False)
    with pytest.raises(MissingPrivateKeyError, match="no PEM private key"):
        load_path(bare)
    foreign = tmp_path / "foreign.pem"
    foreign.write_bytes(pki["leaf"].cert_pem + pki["rsa_leaf"].key_pem())
    with pytest.raises(MissingPrivateKeyError, match="does not belong"):
        load_path(foreign)


def test_expired_certificate_is_refused(tmp_path: Path):
    old = make_self_signed("old", not_before=utcnow() - 10 * DAY, not_after=utcnow() - DAY)
    path = write_pfx(tmp_path / "old.pfx", old)
    with pytest.raises(CertificateExpiredError) as error:
        load_path(path)
    assert "expired" in str(error.value)
    assert str(error.value).startswith("CertificateDiskPath: certificate file")


def test_not_yet_valid_certificate_is_refused(tmp_path: Path):
    future = make_self_signed("future", not_before=utcnow() + DAY)
    with pytest.raises(CertificateNotYetValidError, match="not valid before"):
        load_path(write_pem(tmp_path / "future.pem", future))


def test_validity_uses_the_injected_clock(tmp_path: Path, pki: dict[str, Issued]):
    path = write_pfx(tmp_path / "app.pfx", pki["leaf"])
    later = (utcnow() + 30 * DAY).timestamp()
    with pytest.raises(CertificateExpiredError):
        PathCertificateLoader(clock=lambda: later).load(path_entry(path))
    earlier = (utcnow() - 30 * DAY).timestamp()
    with pytest.raises(CertificateNotYetValidError):
        PathCertificateLoader(clock=lambda: earlier).load(path_entry(path))


def test_missing_file_and_directory_name_the_path(tmp_path: Path):
    missing = tmp_path / "nope.pfx"
    with pytest.raises(CredentialFileError, match="does not exist") as error:
        load_path(missing)
    assert str(missing) in str(error.value)
    assert error.value.file == str(missing)
    with pytest.raises(CredentialFileError, match="is a directory"):
        load_path(tmp_path)


def test_unreadable_file(
    tmp_path: Path, pki: dict[str, Issued], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_pfx(tmp_path / "app.pfx", pki["leaf"])
    path.chmod(0)
    if os.geteuid() == 0:
        # root reads any file whatever its mode (CI runs as root): have the loader's `open`
        # fail as the kernel would for anyone else, so the error mapping is still exercised.
        def denied(name: str, *_: object, **__: object) -> None:
            raise PermissionError(13, "Permission denied", name)

        monkeypatch.setattr(path_module, "open", denied, raising=False)
    with pytest.raises(CredentialFileError, match="permission denied"):
        load_path(path)


@pytest.mark.parametrize("content", [b"", b"  \n", b"not a certificate at all", b"0\x82\x01"])
def test_malformed_content(tmp_path: Path, content: bytes):
    path = tmp_path / "bad.pfx"
    path.write_bytes(content)
    with pytest.raises(MalformedCredentialError):
        load_path(path)


def test_broken_pem_is_malformed(tmp_path: Path):
    path = tmp_path / "bad.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(MalformedCredentialError, match="no readable PEM certificate"):
        load_path(path)


def test_path_entry_without_a_path_is_incomplete():
    with pytest.raises(IncompleteCredentialError, match="needs CertificateDiskPath"):
        PathCertificateLoader().load(describe(SourceType="Path"))


def test_relative_path_is_resolved_against_the_current_directory(
    tmp_path: Path, pki: dict[str, Issued], monkeypatch: pytest.MonkeyPatch
):
    write_pfx(tmp_path / "app.pfx", pki["leaf"])
    monkeypatch.chdir(tmp_path)
    assert load_path("app.pfx").description_id == f"Path={tmp_path / 'app.pfx'}"


def test_base64_encoded_pfx(pki: dict[str, Issued]):
    value = base64.b64encode(pfx_bytes(pki["leaf"], password=PASSWORD)).decode()
    entry = describe(
        SourceType="Base64Encoded", Base64EncodedValue=value, CertificatePassword=PASSWORD
    )
    credential = Base64EncodedCertificateLoader().load(entry)
    assert credential.certificate.subject == "CN=app"
    assert credential.description_id.startswith("Base64Encoded=")
    assert value[:16] not in credential.description_id
    with pytest.raises(WrongPasswordError):
        Base64EncodedCertificateLoader().load(describe(SourceType=2, Base64EncodedValue=value))


@pytest.mark.parametrize("value", ["%%% not base64 %%%", base64.b64encode(b"garbage").decode()])
def test_base64_encoded_malformed(value: str):
    entry = describe(SourceType="Base64Encoded", Base64EncodedValue=value)
    with pytest.raises(MalformedCredentialError) as error:
        Base64EncodedCertificateLoader().load(entry)
    assert str(error.value).startswith("Base64EncodedValue: ")


def test_base64_encoded_expired():
    old = make_self_signed("old", not_before=utcnow() - 10 * DAY, not_after=utcnow() - DAY)
    value = base64.b64encode(pfx_bytes(old)).decode()
    with pytest.raises(CertificateExpiredError):
        Base64EncodedCertificateLoader().load(
            describe(SourceType="Base64Encoded", Base64EncodedValue=value)
        )


def test_client_secret_is_never_shown():
    secret = "very-secret-value-123"
    credential = ClientSecretLoader().load(describe(SourceType="ClientSecret", ClientSecret=secret))
    assert isinstance(credential, SecretCredential)
    assert credential.secret == secret
    assert secret not in repr(credential)
    assert secret not in credential.description_id
    assert credential.description_id.startswith("RedactedClientSecret=")
    again = ClientSecretLoader().load(describe(SourceType="ClientSecret", ClientSecret=secret))
    assert again.description_id == credential.description_id
    with pytest.raises(IncompleteCredentialError):
        ClientSecretLoader().load(describe(SourceType="ClientSecret"))


def test_secret_ids_are_keyed_so_a_weak_secret_cannot_be_guessed_from_its_id():
    """An unsalted hash of `password` is in every rainbow table; the id must not be that hash."""
    secret = "password"
    credential = ClientSecretLoader().load(describe(SourceType="ClientSecret", ClientSecret=secret))
    tag = credential.description_id.removeprefix("RedactedClientSecret=")
    assert len(tag) == 16
    assert tag != hashlib.sha256(secret.encode()).hexdigest()[:16]
    assert tag == redacted(secret)
    assert redacted("password2") != tag
    other_process = subprocess.run(  # noqa: S603 - our interpreter, a fixed script
        [sys.executable, "-c", _PRINT_TAG, secret], capture_output=True, text=True, check=True
    )
    assert other_process.stdout.strip() not in ("", tag)


_PRINT_TAG = (
    "import sys; from identity_web.credentials._types import redacted; print(redacted(sys.argv[1]))"
)


def test_reprs_hide_assertions_and_keys(tmp_path: Path, pki: dict[str, Issued]):
    assertion = SignedAssertion(assertion="eyJhbGciOi.secret.part", expires_on=1.0)
    assert "eyJ" not in repr(assertion)
    credential = load_path(write_pfx(tmp_path / "app.pfx", pki["leaf"]))
    assert "PRIVATE" not in repr(credential)
    assert "private_key" not in repr(credential)


def test_every_loader_error_is_a_credential_error():
    for error_type in (
        CredentialFileError,
        MalformedCredentialError,
        WrongPasswordError,
        MissingPrivateKeyError,
        CertificateExpiredError,
        CertificateNotYetValidError,
        IncompleteCredentialError,
    ):
        assert issubclass(error_type, CredentialError)


def test_pem_exported_by_openssl_with_bag_attributes(tmp_path: Path, pki: dict[str, Issued]):
    path = tmp_path / "export.pem"
    path.write_bytes(
        b"Bag Attributes\n    localKeyID: 01 02 03\nsubject=CN = app\nissuer=CN = intermediate\n"
        + pem_bytes(pki["leaf"], key_first=True)
    )
    assert load_path(path).certificate.subject == "CN=app"
