"""Credential loaders (one module per SourceType) and the provider that selects one.

`CredentialsProvider(descriptions, loaders).get()` returns the first `ClientCredentials` entry
that loads, as a `LoadedCredential` (`SecretCredential | CertificateCredential |
AssertionCredential`). `builtin_loaders()` gives the loaders that need nothing but a clock
(Path, Base64Encoded, ClientSecret, the three StoreWith*); the container also registers the two
assertion loaders and KeyVault (`KeyVaultCertificateLoader(fetcher)`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from identity_web.credentials._errors import (
    IDW10109,
    CertificateExpiredError,
    CertificateNotYetValidError,
    CredentialAttempt,
    CredentialFileError,
    CredentialLoadError,
    IncompleteCredentialError,
    KeyVaultError,
    MalformedCredentialError,
    ManagedIdentityAssertionError,
    MissingPrivateKeyError,
    NoCredentialLoadedError,
    UnsupportedCredentialSourceError,
    WrongPasswordError,
)
from identity_web.credentials._provider import CredentialsProvider
from identity_web.credentials._types import (
    AssertionCredential,
    AssertionProvider,
    CertificateCredential,
    CredentialLoader,
    LoadedCredential,
    SecretCredential,
    SignedAssertion,
)
from identity_web.credentials.base64_encoded import Base64EncodedCertificateLoader
from identity_web.credentials.client_secret import ClientSecretLoader
from identity_web.credentials.key_vault import (
    KeyVaultCertificateLoader,
    KeyVaultHttpFetcher,
    KeyVaultSecretFetcher,
)
from identity_web.credentials.path import PathCertificateLoader
from identity_web.credentials.store_with_distinguished_name import StoreWithDistinguishedNameLoader
from identity_web.credentials.store_with_subject_name import StoreWithSubjectNameLoader
from identity_web.credentials.store_with_thumbprint import StoreWithThumbprintLoader
from identity_web.settings import CredentialSource


def builtin_loaders(
    *, clock: Callable[[], float] = time.time
) -> dict[CredentialSource, CredentialLoader]:
    """The loaders this package implements, keyed by SourceType (`clock`: epoch seconds)."""
    return {
        CredentialSource.Path: PathCertificateLoader(clock=clock),
        CredentialSource.Base64Encoded: Base64EncodedCertificateLoader(clock=clock),
        CredentialSource.ClientSecret: ClientSecretLoader(),
        CredentialSource.StoreWithThumbprint: StoreWithThumbprintLoader(clock=clock),
        CredentialSource.StoreWithDistinguishedName: StoreWithDistinguishedNameLoader(clock=clock),
        CredentialSource.StoreWithSubjectName: StoreWithSubjectNameLoader(clock=clock),
    }


__all__ = [
    "IDW10109",
    "AssertionCredential",
    "AssertionProvider",
    "Base64EncodedCertificateLoader",
    "CertificateCredential",
    "CertificateExpiredError",
    "CertificateNotYetValidError",
    "ClientSecretLoader",
    "CredentialAttempt",
    "CredentialFileError",
    "CredentialLoadError",
    "CredentialLoader",
    "CredentialsProvider",
    "IncompleteCredentialError",
    "KeyVaultCertificateLoader",
    "KeyVaultError",
    "KeyVaultHttpFetcher",
    "KeyVaultSecretFetcher",
    "LoadedCredential",
    "MalformedCredentialError",
    "ManagedIdentityAssertionError",
    "MissingPrivateKeyError",
    "NoCredentialLoadedError",
    "PathCertificateLoader",
    "SecretCredential",
    "SignedAssertion",
    "StoreWithDistinguishedNameLoader",
    "StoreWithSubjectNameLoader",
    "StoreWithThumbprintLoader",
    "UnsupportedCredentialSourceError",
    "WrongPasswordError",
    "builtin_loaders",
]
