"""CredentialsProvider: ordered fallback, Skip, one load under concurrency, reset, IDW10109."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from certgen import DAY, make_self_signed, utcnow, write_pfx
from selection import selected
from testkit import offline

from identity_web import CredentialUnavailableError
from identity_web.credentials import (
    CertificateCredential,
    CertificateExpiredError,
    CredentialFileError,
    CredentialsProvider,
    LoadedCredential,
    NoCredentialLoadedError,
    SecretCredential,
    UnsupportedCredentialSourceError,
    builtin_loaders,
)
from identity_web.settings import CredentialDescription, CredentialSource

PASSWORD = "pfx-Password-42"
SECRET = "the-client-secret-xyz"


def describe(**keys: Any) -> CredentialDescription:
    return CredentialDescription.model_validate(keys)


def provider(*entries: CredentialDescription, **options: Any) -> CredentialsProvider:
    return CredentialsProvider(entries, builtin_loaders(), **options)


def secret_entry(**keys: Any) -> CredentialDescription:
    return describe(SourceType="ClientSecret", ClientSecret=SECRET, **keys)


class CountingLoader:
    """Loads a secret slowly and counts the loads."""

    def __init__(self, delay: float = 0.0) -> None:
        self.calls = 0
        self.delay = delay
        self._lock = threading.Lock()

    def load(self, description: CredentialDescription) -> LoadedCredential:
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return SecretCredential(secret="s", description_id=f"counted={self.calls}")


def test_first_loadable_entry_wins(tmp_path: Path):
    credentials = provider(
        describe(SourceType="Path", CertificateDiskPath=str(tmp_path / "missing.pfx")),
        secret_entry(),
    )
    credential = selected(credentials)
    assert isinstance(credential, SecretCredential)
    assert credentials.selected_index == 1


def test_certificate_entry_before_secret_is_preferred(tmp_path: Path):
    path = write_pfx(tmp_path / "app.pfx", make_self_signed("app"), password=PASSWORD)
    credentials = provider(
        describe(SourceType="Path", CertificateDiskPath=str(path), CertificatePassword=PASSWORD),
        secret_entry(),
    )
    credential = selected(credentials)
    assert isinstance(credential, CertificateCredential)
    assert credential.certificate.subject == "CN=app"


def test_skip_entries_are_passed_over(tmp_path: Path):
    path = write_pfx(tmp_path / "app.pfx", make_self_signed("app"))
    credentials = provider(
        describe(SourceType="Path", CertificateDiskPath=str(path), Skip=True), secret_entry()
    )
    assert isinstance(selected(credentials), SecretCredential)


def test_selection_is_cached_and_loaded_once_under_concurrency():
    loader = CountingLoader(delay=0.05)
    credentials = CredentialsProvider([secret_entry()], {CredentialSource.ClientSecret: loader})
    barrier = threading.Barrier(32)
    results: list[LoadedCredential] = []

    def worker() -> None:
        barrier.wait()
        results.append(selected(credentials))

    threads = [threading.Thread(target=worker) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert loader.calls == 1
    assert len(results) == 32
    assert all(result is results[0] for result in results)
    assert selected(credentials) is results[0]


def test_reset_loads_again_and_sees_a_rotated_certificate(tmp_path: Path):
    path = write_pfx(tmp_path / "app.pfx", make_self_signed("old"))
    credentials = provider(describe(SourceType="Path", CertificateDiskPath=str(path)))
    first = selected(credentials)
    write_pfx(path, make_self_signed("new"))
    assert selected(credentials) is first
    credentials.reset()
    assert credentials.selected_index is None
    second = selected(credentials)
    assert isinstance(first, CertificateCredential)
    assert isinstance(second, CertificateCredential)
    assert second.certificate.subject == "CN=new"
    assert second.certificate.x5t_s256 != first.certificate.x5t_s256


def test_reset_can_fall_back_to_the_next_entry(tmp_path: Path):
    path = write_pfx(tmp_path / "app.pfx", make_self_signed("app"))
    credentials = provider(
        describe(SourceType="Path", CertificateDiskPath=str(path)), secret_entry()
    )
    assert isinstance(selected(credentials), CertificateCredential)
    path.unlink()
    credentials.reset()
    assert isinstance(selected(credentials), SecretCredential)
    assert credentials.selected_index == 1


def test_no_loadable_entry_lists_every_attempt(tmp_path: Path):
    expired = make_self_signed("old", not_before=utcnow() - 9 * DAY, not_after=utcnow() - DAY)
    expired_path = write_pfx(tmp_path / "old.pfx", expired, password=PASSWORD)
    credentials = provider(
        describe(
            SourceType="Path", CertificateDiskPath=str(expired_path), CertificatePassword=PASSWORD
        ),
        describe(SourceType="KeyVault", KeyVaultUrl="https://v.vault.azure.net"),
        secret_entry(Skip=True),
        describe(SourceType="Path", CertificateDiskPath=str(tmp_path / "gone.pfx")),
    )
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(credentials)
    error = caught.value
    message = str(error)
    assert isinstance(error, CredentialUnavailableError)
    assert message.startswith("IDW10109")
    assert "[0] SourceType Path: AzureAd.ClientCredentials[0].CertificateDiskPath" in message
    assert "expired" in message
    assert "[1] SourceType KeyVault: AzureAd.ClientCredentials[1].SourceType: " in message
    assert "SourceType KeyVault is not supported yet by identity-web" in message
    assert "[2] SourceType ClientSecret: Skip is true" in message
    assert "[3] SourceType Path" in message
    assert "does not exist" in message
    assert [attempt.index for attempt in error.attempts] == [0, 1, 2, 3]
    assert PASSWORD not in message
    assert SECRET not in message
    assert isinstance(error.__cause__, ExceptionGroup)
    causes = error.__cause__.exceptions
    assert [type(cause) for cause in causes] == [
        CertificateExpiredError,
        UnsupportedCredentialSourceError,
        CredentialFileError,
    ]
    assert str(causes[0]).startswith("AzureAd.ClientCredentials[0].CertificateDiskPath: ")
    assert credentials.selected_index is None


def test_single_failure_is_the_direct_cause(tmp_path: Path):
    credentials = provider(
        describe(SourceType="Path", CertificateDiskPath=str(tmp_path / "x.pfx")),
        key_path="MyApp.ClientCredentials",
    )
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(credentials)
    assert isinstance(caught.value.__cause__, CredentialFileError)
    assert "MyApp.ClientCredentials[0].CertificateDiskPath" in str(caught.value)


def test_failure_is_not_cached(tmp_path: Path):
    path = tmp_path / "later.pfx"
    credentials = provider(describe(SourceType="Path", CertificateDiskPath=str(path)))
    with pytest.raises(NoCredentialLoadedError):
        selected(credentials)
    write_pfx(path, make_self_signed("later"))
    assert isinstance(selected(credentials), CertificateCredential)


def test_empty_credentials_explain_what_to_add():
    with pytest.raises(NoCredentialLoadedError) as caught:
        selected(provider())
    message = str(caught.value)
    assert "IDW10109" in message
    assert "AzureAd.ClientCredentials is empty or absent" in message


def test_only_skipped_entries():
    with pytest.raises(NoCredentialLoadedError, match="Skip is true"):
        selected(provider(secret_entry(Skip=True)))


def test_a_bug_in_a_loader_is_not_swallowed():
    class Broken:
        def load(self, description: CredentialDescription) -> LoadedCredential:
            raise ZeroDivisionError("bug")

    credentials = CredentialsProvider([secret_entry()], {CredentialSource.ClientSecret: Broken()})
    with pytest.raises(ZeroDivisionError):
        selected(credentials)


def test_watchers_hear_of_every_change_of_the_selection(tmp_path: Path):
    """The acquirer ends the headers it holds for the old selection this way (`watch`)."""
    path = write_pfx(tmp_path / "app.pfx", make_self_signed("app"), password=PASSWORD)
    credentials = provider(
        describe(SourceType="Path", CertificateDiskPath=str(path), CertificatePassword=PASSWORD),
    )
    seen: list[tuple[object, object]] = []
    credentials.watch(lambda: seen.append((credentials.current, credentials.current_bound)))
    first = selected(credentials)
    assert seen == [(first, None)]  # told after the selection is in place
    selected(credentials)
    assert len(seen) == 1  # no change, no word
    bound = offline(credentials.selected(bound=True))
    assert seen[-1] == (first, bound)
    credentials.reset()
    assert seen[-1] == (None, None)
    assert len(seen) == 3
