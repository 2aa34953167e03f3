"""`SourceType: StoreWithDistinguishedName` — the newest valid store certificate with that subject.

`CertificateDistinguishedName` is the whole subject, e.g. `CN=myapp.contoso.com, O=Contoso`.
It matches as .NET's `FindBySubjectDistinguishedName` does, ignoring case, and here also
ignoring the spaces after commas and the order of the components (`O=Contoso,CN=myapp` is the
same subject written RFC 4514's way round).
"""

from __future__ import annotations

import re

from cryptography import x509

from identity_web.credentials._store import StoreLoader, StoreQuery
from identity_web.settings import CredentialDescription

KEY = "CertificateDistinguishedName"
_UNESCAPED_COMMA = re.compile(r"(?<!\\),")


def _components(name: str) -> list[str]:
    """`type=value` parts, case-folded and without the spaces around them or their `=`."""
    parts = (part.strip() for part in _UNESCAPED_COMMA.split(name))
    return [
        f"{kind.strip()}={value.strip()}".casefold()
        for kind, _, value in (part.partition("=") for part in parts if part)
    ]


def subject_components(certificate: x509.Certificate) -> list[str]:
    return _components(certificate.subject.rfc4514_string())


class StoreWithDistinguishedNameLoader(StoreLoader):
    """Loads the newest valid store certificate whose subject is `CertificateDistinguishedName`."""

    def query(self, description: CredentialDescription) -> StoreQuery:
        value = (description.certificate_distinguished_name or "").strip()
        wanted = _components(value)

        def matches(certificate: x509.Certificate) -> bool:
            subject = subject_components(certificate)
            return wanted in (subject, subject[::-1])

        return StoreQuery(
            source="StoreWithDistinguishedName",
            key=KEY,
            value=value,
            criterion=f"subject '{value}'",
            matches=matches,
        )
