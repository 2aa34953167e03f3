"""The test PKI shared by the transport tests (built by the `pki` fixture in conftest)."""

from __future__ import annotations

from dataclasses import dataclass

from certgen import Issued

from identity_web.protocol import BindingCertificate


@dataclass(frozen=True)
class Pki:
    ca: Issued
    server: Issued
    client_a: Issued
    client_b: Issued
    ca_bundle: str

    @property
    def binding_a(self) -> BindingCertificate:
        return self.client_a.binding()

    @property
    def binding_b(self) -> BindingCertificate:
        return self.client_b.binding()
