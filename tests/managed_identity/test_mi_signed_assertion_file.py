"""`SignedAssertionFilePath` (AKS workload identity token file): reading, expiry, re-reading."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from testkit import offline

from identity_web import InvalidRequestError
from identity_web.credentials import (
    AssertionCredential,
    CredentialFileError,
    IncompleteCredentialError,
    MalformedCredentialError,
)
from identity_web.credentials.signed_assertion_file import (
    SignedAssertionFilePathLoader,
    SignedAssertionFileProvider,
    jwt_expiry,
)
from identity_web.settings import CredentialDescription, CredentialSource

NOW = 1_700_000_000.0


def jwt(claims: dict) -> str:
    def part(value: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'RS256', 'typ': 'JWT'})}.{part(claims)}.c2ln"


run = offline  # the real sync driver: the file is read, nothing is sent


def test_exp_is_read_without_verification() -> None:
    assert jwt_expiry(jwt({"exp": 123, "sub": "s"})) == 123.0
    assert jwt_expiry(jwt({"sub": "s"})) is None
    with pytest.raises(ValueError, match="compact JWT"):
        jwt_expiry("opaque")


def test_assertion_comes_from_the_file_without_requests(tmp_path: Path) -> None:
    token = jwt({"exp": NOW + 3600})
    path = tmp_path / "token"
    path.write_text(token + "\n")
    provider = SignedAssertionFileProvider(str(path))
    assert provider.supports_token_binding is False
    assertion = run(provider.assertion_flow(bound=False, now=NOW))
    assert assertion.assertion == token
    assert assertion.expires_on == NOW + 3600
    assert token not in repr(assertion)
    assert token not in repr(provider)


def test_file_is_reread_at_most_every_ten_minutes(tmp_path: Path) -> None:
    path = tmp_path / "token"
    first, second = jwt({"exp": NOW + 86400, "n": 1}), jwt({"exp": NOW + 86400, "n": 2})
    path.write_text(first)
    provider = SignedAssertionFileProvider(str(path))
    assert provider.current(NOW).assertion == first
    path.write_text(second)
    assert provider.current(NOW + 599).assertion == first
    assert provider.current(NOW + 600).assertion == second


def test_file_is_reread_before_the_assertion_expires(tmp_path: Path) -> None:
    path = tmp_path / "token"
    first, second = jwt({"exp": NOW + 400}), jwt({"exp": NOW + 4000})
    path.write_text(first)
    provider = SignedAssertionFileProvider(str(path))
    assert provider.current(NOW).assertion == first
    path.write_text(second)
    assert provider.current(NOW + 99).assertion == first
    assert provider.current(NOW + 100).assertion == second  # within 5 min of exp


def test_assertion_without_exp_lives_until_the_next_periodic_read(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(jwt({"sub": "s"}))
    assert SignedAssertionFileProvider(str(path)).current(NOW).expires_on == NOW + 600


def test_binding_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(jwt({"exp": NOW + 3600}))
    with pytest.raises(InvalidRequestError, match="IDW10115"):
        run(SignedAssertionFileProvider(str(path)).assertion_flow(bound=True, now=NOW))


def test_missing_empty_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(CredentialFileError, match="cannot read"):
        SignedAssertionFileProvider(str(tmp_path / "absent")).current(NOW)
    (tmp_path / "empty").write_text("")
    with pytest.raises(MalformedCredentialError, match="empty"):
        SignedAssertionFileProvider(str(tmp_path / "empty")).current(NOW)
    (tmp_path / "opaque").write_text("not-a-jwt")
    with pytest.raises(MalformedCredentialError, match="does not hold a JWT"):
        SignedAssertionFileProvider(str(tmp_path / "opaque")).current(NOW)


def description(**values: str) -> CredentialDescription:
    return CredentialDescription(source_type=CredentialSource.SignedAssertionFilePath, **values)


def test_loader_uses_the_settings_path(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text(jwt({"exp": NOW + 3600}))
    loaded = SignedAssertionFilePathLoader(environ={}, clock=lambda: NOW).load(
        description(signed_assertion_file_disk_path=str(path))
    )
    assert isinstance(loaded, AssertionCredential)
    assert loaded.description_id == f"SignedAssertionFilePath={path}"
    assert loaded.provider.supports_token_binding is False


def test_loader_falls_back_to_azure_federated_token_file(tmp_path: Path) -> None:
    path = tmp_path / "azure-identity-token"
    path.write_text(jwt({"exp": NOW + 3600}))
    loader = SignedAssertionFilePathLoader(
        environ={"AZURE_FEDERATED_TOKEN_FILE": str(path)}, clock=lambda: NOW
    )
    assert loader.load(description()).description_id.endswith("azure-identity-token")


def test_loader_without_any_path_names_the_key() -> None:
    with pytest.raises(IncompleteCredentialError, match="AZURE_FEDERATED_TOKEN_FILE"):
        SignedAssertionFilePathLoader(environ={}).load(description())


def test_loader_fails_early_on_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CredentialFileError):
        SignedAssertionFilePathLoader(environ={}).load(
            description(signed_assertion_file_disk_path=str(tmp_path / "nope"))
        )
