"""Why a credential could not be loaded: one `CredentialError` subclass per cause.

Each error knows the settings key it is about (`CertificateDiskPath`) and, once the
`CredentialsProvider` has placed it, the entry it came from (`AzureAd.ClientCredentials[1]`),
so its message reads `AzureAd.ClientCredentials[1].CertificateDiskPath: ...`. Messages name
files and keys, never a password, a secret or key material.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from identity_web._errors import CredentialError, CredentialUnavailableError
from identity_web.settings import CredentialSource

IDW10109 = (
    "IDW10109: No credential could be loaded. This happens when certificates have expired or "
    "cannot be read, when a signed assertion (federated identity credential) cannot get its "
    "exchange token, or when the code does not run where its managed identity is available."
)


class CredentialLoadError(CredentialError):
    """Base of the loader errors: a detail, the key it concerns and the entry it came from."""

    def __init__(self, detail: str, *, key: str = "", file: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.key = key
        self.file = file
        self.entry = ""

    @property
    def key_path(self) -> str:
        """`AzureAd.ClientCredentials[1].CertificateDiskPath`, or as much of it as is known."""
        return ".".join(part for part in (self.entry, self.key) if part)

    def locate(self, entry: str) -> None:
        """Record which settings entry (`AzureAd.ClientCredentials[1]`) this error is about."""
        self.entry = entry

    def __str__(self) -> str:
        where = self.key_path
        return f"{where}: {self.detail}" if where else self.detail


class CredentialFileError(CredentialLoadError):
    """A file named by the settings is missing or cannot be read."""


class MalformedCredentialError(CredentialLoadError):
    """The content is not what the SourceType expects (not PKCS#12/PEM, bad base64 …)."""


class WrongPasswordError(CredentialLoadError):
    """The certificate's password is missing or wrong (`CertificatePassword`)."""


class MissingPrivateKeyError(CredentialLoadError):
    """The certificate has no private key with it, or the key is of an unusable kind."""


class CertificateExpiredError(CredentialLoadError):
    """The certificate's validity ended (`NotAfter` is in the past)."""


class CertificateNotYetValidError(CredentialLoadError):
    """The certificate's validity has not started (`NotBefore` is in the future)."""


class IncompleteCredentialError(CredentialLoadError):
    """The entry lacks a key its SourceType needs (a Path entry without CertificateDiskPath)."""


class UnsupportedCredentialSourceError(CredentialLoadError):
    """No loader is registered for this SourceType."""


class ManagedIdentityAssertionError(CredentialLoadError):
    """The managed identity could not get the token used as the federated assertion
    (`SignedAssertionFromManagedIdentity`)."""


class KeyVaultError(CredentialLoadError):
    """`SourceType: KeyVault`: Key Vault did not return the certificate (an HTTP or Key Vault
    error, the vault unreachable, or no token for it)."""


@dataclass(frozen=True, slots=True)
class CredentialAttempt:
    """One `ClientCredentials` entry that was tried (or skipped) and why it was not selected."""

    index: int
    source_type: CredentialSource
    reason: str

    def __str__(self) -> str:
        return f"[{self.index}] SourceType {self.source_type.value}: {self.reason}"


class NoCredentialLoadedError(CredentialUnavailableError):
    """IDW10109: no entry of `ClientCredentials` could be loaded; `attempts` says why for each."""

    def __init__(self, detail: str, *, attempts: Sequence[CredentialAttempt] = ()) -> None:
        self.attempts = tuple(attempts)
        lines = [IDW10109]
        if detail:
            lines.append(detail)
        if self.attempts:
            lines.append("Attempts:")
            lines += [f"  - {attempt}" for attempt in self.attempts]
        super().__init__("\n".join(lines))
