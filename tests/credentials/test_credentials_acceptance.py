"""Issue 2 acceptance: unsupported sources refused at load time through the container, the
binding-certificate value, and the unreadable-file error even when the tests run as root."""

from __future__ import annotations

import base64
import dataclasses
import os
import select
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from certgen import make_self_signed, pfx_bytes, utcnow, write_pfx
from cryptography.hazmat.primitives import serialization
from selection import selected

from identity_web import TokenAcquirerFactory
from identity_web.container import IdentityWebContainer
from identity_web.credentials import (
    Base64EncodedCertificateLoader,
    CertificateCredential,
    CredentialFileError,
    CredentialsProvider,
    NoCredentialLoadedError,
    PathCertificateLoader,
    SecretCredential,
)
from identity_web.settings import CredentialDescription, CredentialSource, IdentityWebSettings

IMPLEMENTED = {
    CredentialSource.Path,
    CredentialSource.Base64Encoded,
    CredentialSource.ClientSecret,
    CredentialSource.StoreWithThumbprint,
    CredentialSource.StoreWithDistinguishedName,
    CredentialSource.StoreWithSubjectName,
    CredentialSource.SignedAssertionFilePath,
    CredentialSource.SignedAssertionFromManagedIdentity,
    CredentialSource.KeyVault,
}
NOT_YET = sorted(set(CredentialSource) - IMPLEMENTED, key=lambda source: source.number)


def settings_with(*entries: dict[str, object]) -> IdentityWebSettings:
    return IdentityWebSettings.from_mapping(
        {"AzureAd": {"ClientId": "app", "TenantId": "t", "ClientCredentials": list(entries)}}
    )


def test_the_container_implements_exactly_these_sources() -> None:
    assert set(IdentityWebContainer.credential_loaders.kwargs) == IMPLEMENTED


@pytest.mark.parametrize("source", NOT_YET, ids=lambda source: source.value)
def test_an_unimplemented_source_is_accepted_by_the_settings_and_refused_at_load_time(
    source: CredentialSource,
    credentials_of: Callable[[IdentityWebSettings], CredentialsProvider],
) -> None:
    settings = settings_with({"SourceType": source.value})  # the model accepts it
    assert settings.azure_ad.client_credentials[0].source_type is source
    credentials = credentials_of(settings)
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(credentials)
    message = str(caught.value)
    assert message.startswith("IDW10109")
    assert (
        f"AzureAd.ClientCredentials[0].SourceType: SourceType {source.value} is not supported "
        "yet by identity-web; supported: "
    ) in message


def test_an_unimplemented_source_falls_back_to_the_next_entry_through_the_factory() -> None:
    settings = settings_with(
        {"SourceType": "Certificate"},
        {"SourceType": "ClientSecret", "ClientSecret": "the-secret"},
    )
    factory = TokenAcquirerFactory(settings, environ={})
    try:
        credentials: CredentialsProvider = factory.container.credentials()
        assert isinstance(selected(credentials), SecretCredential)
        assert credentials.selected_index == 1
    finally:
        factory.container.shutdown_resources()


# ---- the binding-certificate value -----------------------------------------------------------


def test_a_loaded_certificate_is_an_immutable_value_with_its_validity(tmp_path: Path) -> None:
    issued = make_self_signed("app", not_before=utcnow().replace(second=0))
    credential = PathCertificateLoader().load(
        CredentialDescription.model_validate(
            {
                "SourceType": "Path",
                "CertificateDiskPath": str(write_pfx(tmp_path / "a.pfx", issued)),
            }
        )
    )
    certificate = credential.certificate
    assert certificate.not_before == issued.certificate.not_valid_before_utc
    assert certificate.not_after == issued.certificate.not_valid_after_utc
    assert certificate.der == issued.der
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert certificate.private_key.public_key().public_bytes(*spki) == (
        issued.certificate.public_key().public_bytes(*spki)
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        certificate.x5t_s256 = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        credential.certificate = certificate  # type: ignore[misc]


def test_base64_encoded_pfx_without_password() -> None:
    value = base64.b64encode(pfx_bytes(make_self_signed("nopass"))).decode()
    credential = Base64EncodedCertificateLoader().load(
        CredentialDescription(
            source_type=CredentialSource.Base64Encoded, base64_encoded_value=value
        )
    )
    assert isinstance(credential, CertificateCredential)
    assert credential.certificate.subject == "CN=nopass"


# ---- an unreadable file, whoever runs the tests ------------------------------------------------

NOBODY = 65534


def _load_as(uid: int, path: Path) -> str:
    """Load `path` in a forked child running as `uid` (root reads every file, nobody does not);
    returns the outcome as text."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child never returns into pytest
        outcome = "crashed"
        try:
            os.setgid(uid)
            os.setuid(uid)
            PathCertificateLoader().load(
                CredentialDescription(
                    source_type=CredentialSource.Path, certificate_disk_path=str(path)
                )
            )
            outcome = "loaded"
        except BaseException as error:
            outcome = f"{type(error).__name__}: {error}"
        finally:
            os.write(write_end, outcome.encode("utf-8", "replace"))
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        return os.read(read_end, 65536).decode() if ready else "timed out"
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory every user may enter (pytest's tmp_path is private to its owner)."""
    directory = Path(tempfile.mkdtemp(prefix="identity-web-unreadable-"))
    directory.chmod(0o755)
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


def test_an_unreadable_certificate_file_is_its_own_clear_error(shared_dir: Path) -> None:
    path = write_pfx(shared_dir / "app.pfx", make_self_signed("app"))
    path.chmod(0)
    if os.geteuid() == 0:
        outcome = _load_as(NOBODY, path)
    else:
        try:
            PathCertificateLoader().load(
                CredentialDescription(
                    source_type=CredentialSource.Path, certificate_disk_path=str(path)
                )
            )
            outcome = "loaded"
        except CredentialFileError as error:
            outcome = f"{type(error).__name__}: {error}"
    assert outcome == (
        f"CredentialFileError: CertificateDiskPath: certificate file '{path}' cannot be read: "
        "permission denied for this process"
    )
