"""`SourceType: StoreWithThumbprint` — the certificate with that SHA-1 thumbprint in a store.

`CertificateThumbprint` is the hex SHA-1 thumbprint .NET and the Azure portal show (any case;
spaces and colons are ignored). `CertificateStorePath` picks the store (see `_store`).
"""

from __future__ import annotations

from identity_web.credentials._store import StoreLoader, StoreQuery, sha1_thumbprint
from identity_web.settings import CredentialDescription

KEY = "CertificateThumbprint"


class StoreWithThumbprintLoader(StoreLoader):
    """Loads the store certificate whose SHA-1 thumbprint is `CertificateThumbprint`."""

    def query(self, description: CredentialDescription) -> StoreQuery:
        value = description.certificate_thumbprint or ""
        wanted = "".join(c for c in value if c not in ": \t").upper()
        return StoreQuery(
            source="StoreWithThumbprint",
            key=KEY,
            value=wanted,
            criterion=f"thumbprint {wanted}",
            matches=lambda certificate: sha1_thumbprint(certificate) == wanted,
        )
