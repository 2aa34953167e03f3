"""`TokenResponse`: what every token flow returns (confidential client, managed identity, FIC)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from identity_web.protocol._binding import BindingCertificate


class TokenType(enum.StrEnum):
    """The kind of access token, decided once and carried as a field (never re-read from a
    header string). Members equal their wire value (`"Bearer"`, `"mtls_pop"`), which is also
    the Authorization scheme."""

    BEARER = "Bearer"
    MTLS_POP = "mtls_pop"

    @property
    def is_bound(self) -> bool:
        return self is TokenType.MTLS_POP

    @classmethod
    def of(cls, bound: bool) -> TokenType:
        return cls.MTLS_POP if bound else cls.BEARER

    @classmethod
    def from_wire(cls, value: object) -> TokenType | None:
        """`token_type` as a server sent it (any case); None when it is neither."""
        text = value.strip().lower() if isinstance(value, str) else ""
        if text == "bearer":
            return cls.BEARER
        if text == "mtls_pop":
            return cls.MTLS_POP
        return None


@dataclass(frozen=True, slots=True)
class TokenResponse:
    """A successfully parsed token answer. Times are absolute epoch seconds.

    `binding_certificate` is set only for bound (`mtls_pop`) tokens and is the certificate the
    token request was sent with.
    """

    access_token: str = field(repr=False)
    token_type: TokenType
    expires_on: float
    refresh_on: float | None = None
    binding_certificate: BindingCertificate | None = None
    correlation_id: str = ""
    token_endpoint: str = ""
