"""`TokenResponse`: what every token flow returns (confidential client, managed identity, FIC)."""

from __future__ import annotations

from dataclasses import dataclass, field

from identity_web._binding import BindingCertificate


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successfully parsed token answer. Times are absolute epoch seconds.

    `binding_certificate` is set only for bound (`mtls_pop`) tokens and is the certificate the
    token request was sent with.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_on: float
    refresh_on: float | None = None
    binding_certificate: BindingCertificate | None = None
    correlation_id: str = ""
    token_endpoint: str = ""
