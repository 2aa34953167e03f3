"""`SourceType: StoreWithSubjectName` — the newest valid store certificate whose subject has it.

`CertificateSubjectName` matches as .NET's `FindBySubjectName` does: anywhere in the subject
(`CN=myapp.contoso.com, O=Contoso`), ignoring case. `myapp.contoso.com` is the usual value.
"""

from __future__ import annotations

from cryptography import x509

from identity_web.credentials._store import StoreLoader, StoreQuery
from identity_web.settings import CredentialDescription

KEY = "CertificateSubjectName"


def subject_text(certificate: x509.Certificate) -> str:
    """The subject as .NET prints it: most specific component first, `, ` between them."""
    return ", ".join(rdn.rfc4514_string() for rdn in reversed(certificate.subject.rdns))


class StoreWithSubjectNameLoader(StoreLoader):
    """Loads the newest valid store certificate whose subject contains `CertificateSubjectName`."""

    def query(self, description: CredentialDescription) -> StoreQuery:
        value = (description.certificate_subject_name or "").strip()
        wanted = value.casefold()
        return StoreQuery(
            source="StoreWithSubjectName",
            key=KEY,
            value=value,
            criterion=f"a subject containing '{value}'",
            matches=lambda certificate: wanted in subject_text(certificate).casefold(),
        )
