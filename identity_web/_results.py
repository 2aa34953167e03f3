"""Results of token acquisition and of the authorization header provider."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field

from identity_web._binding import BindingCertificate
from identity_web.protocol._tokens import TokenType


class TokenSource(enum.Enum):
    CACHE = "cache"
    IDENTITY_PROVIDER = "identity_provider"


@dataclass(frozen=True, slots=True)
class AcquireTokenResult:
    """An access token and what came with it. The token itself is never in the repr."""

    access_token: str = field(repr=False)
    token_type: TokenType
    expires_on: float
    refresh_on: float | None = None
    binding_certificate: BindingCertificate | None = None
    token_source: TokenSource = TokenSource.IDENTITY_PROVIDER
    correlation_id: str = ""
    scopes: tuple[str, ...] = ()
    tenant_id: str = ""
    token_endpoint: str = ""

    @property
    def is_bound(self) -> bool:
        return self.token_type == TokenType.MTLS_POP

    @property
    def authorization_header(self) -> str:
        """`mtls_pop <token>` or `Bearer <token>` (the scheme is the token type)."""
        return f"{TokenType.of(self.is_bound)} {self.access_token}"


@dataclass(frozen=True, slots=True)
class AuthorizationHeaderInformation:
    """The header value to send, its token type, and the certificate to send it with (bound
    tokens only). The type is a field: nothing splits it back out of `header_value`."""

    header_value: str = field(repr=False)
    binding_certificate: BindingCertificate | None = None
    metadata: Mapping[str, object] = field(default_factory=dict)
    token_type: TokenType = TokenType.BEARER
