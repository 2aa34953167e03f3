"""Results of token acquisition and of the authorization header provider."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from identity_web.protocol._binding import BindingCertificate
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


def header_information(result: AcquireTokenResult) -> AuthorizationHeaderInformation:
    """The header for `result`: scheme from the token type, the certificate when bound."""
    binding = result.binding_certificate if result.is_bound else None
    metadata = {
        "token_source": result.token_source.value,
        "token_type": str(result.token_type),
        "expires_on": result.expires_on,
        "binding_thumbprint": binding.x5t_s256 if binding is not None else None,
        "token_endpoint": result.token_endpoint,
        "correlation_id": result.correlation_id,
    }
    return AuthorizationHeaderInformation(
        header_value=result.authorization_header,
        binding_certificate=binding,
        metadata=MappingProxyType(metadata),
        token_type=TokenType.of(result.is_bound),
    )
