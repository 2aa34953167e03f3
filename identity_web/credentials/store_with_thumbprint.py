"""`SourceType: StoreWithThumbprint` — the certificate with that SHA-1 thumbprint in a store.

`CertificateThumbprint` is the hex SHA-1 thumbprint .NET and the Azure portal show (any case;
spaces and colons are ignored). `CertificateStorePath` picks the store (see `_store`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from identity_web.credentials._store import CertificateStore, StoreQuery, sha1_thumbprint
from identity_web.credentials._types import CertificateCredential
from identity_web.settings import CredentialDescription

KEY = "CertificateThumbprint"


class StoreWithThumbprintLoader:
    """Loads the store certificate whose SHA-1 thumbprint is `CertificateThumbprint`."""

    def __init__(
        self, *, clock: Callable[[], float] = time.time, environ: Mapping[str, str] | None = None
    ) -> None:
        self._store = CertificateStore(clock=clock, environ=environ)

    def load(self, description: CredentialDescription) -> CertificateCredential:
        value = description.certificate_thumbprint or ""
        wanted = "".join(c for c in value if c not in ": \t").upper()
        query = StoreQuery(
            source="StoreWithThumbprint",
            key=KEY,
            value=wanted,
            criterion=f"thumbprint {wanted}",
            matches=lambda certificate: sha1_thumbprint(certificate) == wanted,
        )
        return self._store.load(description, query)
