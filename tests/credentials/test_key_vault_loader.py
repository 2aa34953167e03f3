"""`KeyVaultCertificateLoader` over a hand-made fetcher: formats, versions, and what it refuses."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import pytest
from certgen import make_self_signed, pem_bytes, pfx_bytes

from identity_web.credentials import (
    IncompleteCredentialError,
    KeyVaultCertificateLoader,
    MalformedCredentialError,
    WrongPasswordError,
)
from identity_web.credentials.key_vault import vault_scope
from identity_web.settings import CredentialDescription, CredentialSource

VAULT = "https://myvault.vault.azure.net"


class Fetcher:
    def __init__(self, secret: Mapping[str, Any]) -> None:
        self.secret = secret
        self.calls: list[tuple[str, str, str | None]] = []

    def __call__(
        self, vault_url: str, name: str, *, managed_identity_client_id: str | None
    ) -> Mapping[str, Any]:
        self.calls.append((vault_url, name, managed_identity_client_id))
        return self.secret


def entry(**keys: Any) -> CredentialDescription:
    return CredentialDescription.model_validate(
        {"SourceType": CredentialSource.KeyVault.value, "KeyVaultUrl": f"{VAULT}/",
         "KeyVaultCertificateName": "app", **keys}
    )  # fmt: skip


def test_a_pfx_secret_becomes_the_certificate_with_its_key() -> None:
    issued = make_self_signed("kv")
    secret = {
        "value": base64.b64encode(pfx_bytes(issued)).decode(),
        "contentType": "application/x-pkcs12",
        "id": f"{VAULT}/secrets/app/0123456789abcdef0123456789abcdef",
    }
    fetcher = Fetcher(secret)
    loaded = KeyVaultCertificateLoader(fetcher).load(entry(ManagedIdentityClientId="uami"))
    assert loaded.certificate.certificate == issued.certificate
    assert fetcher.calls == [(VAULT, "app", "uami")]
    assert loaded.description_id.endswith("/secrets/app/0123456789abcdef0123456789abcdef")


def test_a_pem_secret_with_an_encrypted_key_needs_the_password() -> None:
    issued = make_self_signed("kv")
    value = pem_bytes(issued, key_password="pw").decode()
    fetcher = Fetcher({"value": value, "contentType": "application/x-pem-file"})
    with pytest.raises(WrongPasswordError):
        KeyVaultCertificateLoader(fetcher).load(entry())
    loaded = KeyVaultCertificateLoader(fetcher).load(entry(CertificatePassword="pw"))
    assert loaded.certificate.certificate == issued.certificate


def test_a_plain_secret_is_not_a_certificate() -> None:
    fetcher = Fetcher({"value": "hunter2", "contentType": "text/plain"})
    with pytest.raises(MalformedCredentialError, match="text/plain") as caught:
        KeyVaultCertificateLoader(fetcher).load(entry())
    assert "hunter2" not in str(caught.value)
    assert caught.value.key == "KeyVaultCertificateName"


@pytest.mark.parametrize(
    ("url", "scope"),
    [
        ("https://v.vault.azure.net", "https://vault.azure.net/.default"),
        ("https://v.vault.usgovcloudapi.net/", "https://vault.usgovcloudapi.net/.default"),
        ("https://v.vault.azure.cn", "https://vault.azure.cn/.default"),
        ("https://127.0.0.1:8443/", "https://vault.azure.net/.default"),
    ],
)
def test_the_token_scope_follows_the_vaults_cloud(url: str, scope: str) -> None:
    assert vault_scope(url) == scope


@pytest.mark.parametrize(
    ("keys", "error", "fragment"),
    [
        ({"KeyVaultUrl": "http://v.vault.azure.net"}, MalformedCredentialError, "https URL"),
        ({"KeyVaultUrl": None}, IncompleteCredentialError, "needs KeyVaultUrl"),
        ({"KeyVaultCertificateName": " "}, IncompleteCredentialError, "needs KeyVaultCertif"),
    ],
)
def test_the_loader_refuses_incomplete_entries_without_fetching(
    keys: dict[str, Any], error: type[Exception], fragment: str
) -> None:
    fetcher = Fetcher({})
    with pytest.raises(error, match=fragment):
        KeyVaultCertificateLoader(fetcher).load(entry(**keys))
    assert fetcher.calls == []
