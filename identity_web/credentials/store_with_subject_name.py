"""`SourceType: StoreWithSubjectName` — the newest valid store certificate whose subject has it.

`CertificateSubjectName` matches as .NET's `FindBySubjectName` does: anywhere in the subject
(`CN=myapp.contoso.com, O=Contoso`), ignoring case. `myapp.contoso.com` is the usual value.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from cryptography import x509

from identity_web.credentials._store import CertificateStore, StoreQuery
from identity_web.credentials._types import CertificateCredential
from identity_web.settings import CredentialDescription

KEY = "CertificateSubjectName"


def subject_text(certificate: x509.Certificate) -> str:
    """The subject as .NET prints it: most specific component first, `, ` between them."""
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(certificate.subject.rdns))


class StoreWithSubjectNameLoader:
    """Loads the newest valid store certificate whose subject contains `CertificateSubjectName`."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, environ: Mapping[str, str] | None = None
    ) -> None:
        self._store = CertificateStore(clock=clock, environ=environ)

    def load(self, description: CredentialDescription) -> CertificateCredential:
        value = (description.certificate_subject_name or "").strip()
        wanted = value.casefold()
        query = StoreQuery(
            source="StoreWithSubjectName",
            key=KEY,
            value=value,
            criterion=f"a subject containing '{value}'",
            matches=lambda certificate: wanted in subject_text(certificate).casefold(),
        )
        return self._store.load(description, query)
