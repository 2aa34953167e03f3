"""What a credential loader produces, and the two seams (`CredentialLoader`, `AssertionProvider`).

Loaded credentials are immutable values. Their reprs never show a secret or an assertion; a
certificate shows only its subject and `x5t#S256`. `description_id` is a stable, non-secret id
of the settings entry a credential came from (`Path=/abs/app.pfx`,
`RedactedClientSecret=<keyed hash prefix>`), usable in logs and in-process keys; the tag of a
secret is stable within one process only, so it gives nothing away even for a weak secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Protocol, TypeAlias

from identity_web.protocol._binding import BindingCertificate
from identity_web.protocol.steps import Step
from identity_web.settings import CredentialDescription


@dataclass(frozen=True, slots=True)
class SignedAssertion:
    """A client assertion (a JWT) with its expiry and, when bound, the certificate to present."""

    assertion: str = field(repr=False)
    expires_on: float
    binding_certificate: BindingCertificate | None = None


class AssertionProvider(Protocol):
    """Produces client assertions, possibly over the network, as a sans-IO flow.

    A managed-identity FIC provider yields the requests that get the token it uses as the
    assertion; a file-based provider reads its file and yields nothing. With `bound=True` the
    provider returns an assertion bound to a certificate it also returns (token binding),
    which only providers with `supports_token_binding` can do.
    """

    @property
    def supports_token_binding(self) -> bool: ...

    def assertion_flow(self, *, bound: bool, now: float) -> Step[SignedAssertion]: ...


@dataclass(frozen=True, slots=True)
class SecretCredential:
    """A client secret (`SourceType: ClientSecret`)."""

    secret: str = field(repr=False)
    description_id: str


@dataclass(frozen=True, slots=True)
class CertificateCredential:
    """A certificate with its private key (Path, Base64Encoded, …)."""

    certificate: BindingCertificate
    description_id: str
    use_bound_credential: bool = False
    """`UseBoundCredential`: Bearer tokens, requested over mTLS with this certificate."""


@dataclass(frozen=True, slots=True)
class AssertionCredential:
    """A provider of client assertions (FIC with managed identity, a token file, …)."""

    provider: AssertionProvider
    description_id: str
    use_bound_credential: bool = False
    """`UseBoundCredential`: Bearer tokens, with a bound assertion presented over mTLS."""


LoadedCredential: TypeAlias = SecretCredential | CertificateCredential | AssertionCredential


def can_bind(credential: LoadedCredential) -> bool:
    """Whether the credential can produce a binding certificate (mTLS PoP): a certificate, or
    an assertion provider that binds (the managed identity FIC one)."""
    if isinstance(credential, CertificateCredential):
        return True
    return (
        isinstance(credential, AssertionCredential) and credential.provider.supports_token_binding
    )


class CredentialLoader(Protocol):
    """Loads one `ClientCredentials` entry of the SourceType it is registered for.

    Raises a `CredentialError` (see `identity_web.credentials._errors`) when it cannot.
    """

    def load(self, description: CredentialDescription) -> LoadedCredential: ...


#: Per-process HMAC key for `redacted`: tags are equal within a process, unrelated across them.
_REDACTION_KEY = secrets.token_bytes(32)


def redacted(value: str) -> str:
    """A short tag of a secret value for ids: HMAC-SHA256 under a random per-process key.

    Unlike a plain hash, the tag cannot be brute-forced back to a weak secret (the key never
    leaves the process); it is stable within the process and must not be persisted or shared.
    """
    return hmac.new(_REDACTION_KEY, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
