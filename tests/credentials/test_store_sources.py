"""StoreWithThumbprint / StoreWithDistinguishedName / StoreWithSubjectName: .NET's per-user store
on Linux and a configured directory; the newest valid matching certificate wins."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from certgen import DAY, Issued, make_self_signed, utcnow, write_pem, write_pfx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from selection import selected

from identity_web.credentials import (
    CertificateCredential,
    CredentialsProvider,
    NoCredentialLoadedError,
)
from identity_web.settings import IdentityWebSettings

DOTNET_MY = Path(".dotnet", "corefx", "cryptography", "x509stores", "my")


def thumbprint(issued: Issued) -> str:
    return issued.certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303


def named(subject: str, days_ago: int = 1, *, valid_days: int = 10) -> Issued:
    """A self-signed certificate with subject `C=US, O=Contoso, CN=<subject>`."""
    certificate = make_self_signed(subject, not_before=utcnow() - days_ago * DAY)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Contoso"),
            x509.NameAttribute(NameOID.COMMON_NAME, subject),
        ]
    )
    start = utcnow() - days_ago * DAY
    rebuilt = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(certificate.private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + valid_days * DAY)
        .sign(certificate.private_key, hashes.SHA256())
    )
    return Issued(rebuilt, certificate.private_key)


def in_dotnet_store(home: Path, issued: Issued) -> Path:
    """Where .NET's `X509Store(My, CurrentUser).Add` puts it: a PFX without password."""
    store = home / DOTNET_MY
    store.mkdir(parents=True, exist_ok=True)
    return write_pfx(store / f"{thumbprint(issued)}.pfx", issued)


@pytest.fixture
def load(
    credentials_of: Callable[[IdentityWebSettings], CredentialsProvider],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., CredentialsProvider]:
    """`load(entry, environ)`: the container's provider for one entry, with `environ` set."""

    def make(entry: dict[str, object], environ: dict[str, str]) -> CredentialsProvider:
        for key, value in environ.items():
            monkeypatch.setenv(key, value)
        app = {"ClientId": "app", "TenantId": "t", "ClientCredentials": [entry]}
        return credentials_of(IdentityWebSettings.from_mapping({"AzureAd": app}))

    return make


def loaded(provider: CredentialsProvider) -> CertificateCredential:
    credential = selected(provider)
    assert isinstance(credential, CertificateCredential)
    return credential


def test_thumbprint_finds_a_certificate_dotnet_put_in_the_current_user_store(
    tmp_path: Path, load: Callable[..., CredentialsProvider]
) -> None:
    wanted, other = named("app.contoso.com"), named("other.contoso.com")
    in_dotnet_store(tmp_path, other)
    in_dotnet_store(tmp_path, wanted)
    typed = ":".join(thumbprint(wanted)[i : i + 2] for i in range(0, 40, 2)).lower()
    entry = {"SourceType": "StoreWithThumbprint", "CertificateThumbprint": typed}
    credential = loaded(load(entry, {"HOME": str(tmp_path)}))
    assert credential.certificate.der == wanted.der
    store = tmp_path / DOTNET_MY
    assert credential.description_id == (
        f"CertificateStoreWithThumbprint={store}/{thumbprint(wanted).replace(':', '')}"
    )
    explicit = {**entry, "CertificateStorePath": "currentuser/MY"}
    assert loaded(load(explicit, {"HOME": str(tmp_path)})).certificate.der == wanted.der


def test_distinguished_name_takes_the_newest_valid_certificate_so_rotation_works(
    tmp_path: Path, load: Callable[..., CredentialsProvider]
) -> None:
    old = named("app.contoso.com", days_ago=5)
    expired = named("app.contoso.com", days_ago=30)
    future = named("app.contoso.com", days_ago=-2)
    for issued in (old, expired, future):
        write_pfx(tmp_path / f"{thumbprint(issued)}.pfx", issued)
    entry = {
        "SourceType": "StoreWithDistinguishedName",
        "CertificateStorePath": str(tmp_path),
        # .NET's order and spacing, another case: the same subject
        "CertificateDistinguishedName": "cn=APP.contoso.com, O=Contoso, C=US",
    }
    provider = load(entry, {})
    assert loaded(provider).certificate.der == old.der
    renewed = named("app.contoso.com", days_ago=1)
    write_pem(tmp_path / "renewed.pem", renewed)
    assert loaded(provider).certificate.der == old.der  # the selection is kept ...
    provider.reset()  # ... until the reload-once rule resets it
    assert loaded(provider).certificate.der == renewed.der


def test_distinguished_name_in_rfc4514_order_matches_and_a_partial_one_does_not(
    tmp_path: Path, load: Callable[..., CredentialsProvider]
) -> None:
    issued = named("app.contoso.com")
    write_pfx(tmp_path / "a.pfx", issued)
    entry = {
        "SourceType": "StoreWithDistinguishedName",
        "CertificateStorePath": str(tmp_path),
        "CertificateDistinguishedName": "C=US,O=Contoso,CN=app.contoso.com",
    }
    assert loaded(load(entry, {})).certificate.der == issued.der
    partial = {**entry, "CertificateDistinguishedName": "CN=app.contoso.com"}
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(load(partial, {}))
    assert "ClientCredentials[0].CertificateDistinguishedName: no certificate" in str(caught.value)


def test_subject_name_matches_part_of_the_subject_in_a_password_protected_directory(
    tmp_path: Path, load: Callable[..., CredentialsProvider]
) -> None:
    issued = named("app.contoso.com")
    write_pfx(tmp_path / "app.pfx", issued, password="pw")
    write_pfx(tmp_path / "public-only.pfx", named("app.contoso.com", 0), include_key=False)
    (tmp_path / "notes.pem").write_text("not a certificate")
    entry = {
        "SourceType": "StoreWithSubjectName",
        "CertificateStorePath": str(tmp_path),
        "CertificateSubjectName": "APP.CONTOSO.COM",
        "CertificatePassword": "pw",
    }
    assert loaded(load(entry, {})).certificate.der == issued.der


@pytest.mark.parametrize(
    ("store_path", "expected"),
    [
        ("LocalMachine/My", "'LocalMachine/My': .NET on Linux has no LocalMachine"),
        ("CurrentUser/Vault", "IDW10703: 'CurrentUser/Vault' is not a certificate store"),
        ("My", "IDW10703: 'My' is neither 'StoreLocation/StoreName'"),
    ],
)
def test_a_store_path_that_names_no_store_is_refused_with_its_key(
    store_path: str, expected: str, tmp_path: Path, load: Callable[..., CredentialsProvider]
) -> None:
    entry = {
        "SourceType": "StoreWithThumbprint",
        "CertificateStorePath": store_path,
        "CertificateThumbprint": "AB" * 20,
    }
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(load(entry, {"HOME": str(tmp_path)}))
    assert f"AzureAd.ClientCredentials[0].CertificateStorePath: {expected}" in str(caught.value)


def test_missing_criterion_and_an_empty_store_name_the_key_and_the_directory(
    tmp_path: Path, load: Callable[..., CredentialsProvider]
) -> None:
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(load({"SourceType": "StoreWithSubjectName"}, {"HOME": str(tmp_path)}))
    assert "CertificateSubjectName: SourceType StoreWithSubjectName needs" in str(caught.value)
    entry = {"SourceType": "StoreWithThumbprint", "CertificateThumbprint": "AB" * 20}
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(load(entry, {"HOME": str(tmp_path)}))
    assert f"thumbprint {'AB' * 20} is valid in the certificate store" in str(caught.value)
    assert str(tmp_path / DOTNET_MY) in str(caught.value)
