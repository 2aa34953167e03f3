"""`ValidatedToken`: what a handler gets after validation, typed; and the scope/role checks."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from identity_web.resource._errors import InsufficientScopeError


class AuthorizationScheme(enum.StrEnum):
    """The scheme of the `Authorization` header: `Bearer`, or `mtls_pop` for bound tokens."""

    BEARER = "Bearer"
    MTLS_POP = "mtls_pop"

    @classmethod
    def parse(cls, text: str) -> AuthorizationScheme | None:
        """The scheme named by `text` (case-insensitive), or None."""
        return _SCHEMES.get(text.lower())


_SCHEMES = {"bearer": AuthorizationScheme.BEARER, "mtls_pop": AuthorizationScheme.MTLS_POP}


@dataclass(frozen=True, slots=True)
class ValidatedToken:
    """A token whose signature, issuer, audience, lifetime, version and binding were checked.

    `claims` holds every claim (read-only); the properties name the ones APIs use. The token
    itself is not kept.
    """

    claims: Mapping[str, Any] = field(repr=False)
    scheme: AuthorizationScheme
    client_certificate_thumbprint: str | None = None

    def _text(self, name: str) -> str | None:
        value = self.claims.get(name)
        return value if isinstance(value, str) else None

    @property
    def issuer(self) -> str:
        return str(self.claims["iss"])

    @property
    def version(self) -> str:
        """`1.0` or `2.0` (the `ver` claim)."""
        return str(self.claims["ver"])

    @property
    def tenant_id(self) -> str | None:
        return self._text("tid")

    @property
    def object_id(self) -> str | None:
        return self._text("oid")

    @property
    def app_id(self) -> str | None:
        """The calling application: `azp` (v2.0) or `appid` (v1.0)."""
        return self._text("azp") or self._text("appid")

    @property
    def expires_on(self) -> int:
        return int(self.claims["exp"])

    @property
    def scopes(self) -> frozenset[str]:
        """Delegated scopes (`scp`, space-separated)."""
        return frozenset((self._text("scp") or "").split())

    @property
    def roles(self) -> frozenset[str]:
        """App roles (`roles`)."""
        roles = self.claims.get("roles")
        return (
            frozenset(r for r in roles if isinstance(r, str))
            if isinstance(roles, list)
            else frozenset()
        )

    @property
    def cnf_x5t_s256(self) -> str | None:
        """The certificate thumbprint a bound token is bound to (RFC 8705 `cnf.x5t#S256`)."""
        cnf = self.claims.get("cnf")
        value = cnf.get("x5t#S256") if isinstance(cnf, Mapping) else None
        return value if isinstance(value, str) else None

    @property
    def bound(self) -> bool:
        return self.cnf_x5t_s256 is not None

    def require_scopes(self, *accepted: str) -> None:
        """Raise `InsufficientScopeError` unless the token has one of `accepted` in `scp`."""
        if accepted and not self.scopes & set(accepted):
            raise InsufficientScopeError(
                f"the token has none of the required scopes: {' '.join(accepted)}"
            )

    def require_roles(self, *accepted: str) -> None:
        """Raise `InsufficientScopeError` unless the token has one of `accepted` in `roles`."""
        if accepted and not self.roles & set(accepted):
            raise InsufficientScopeError(
                f"the token has none of the required app roles: {' '.join(accepted)}"
            )


__all__ = ["AuthorizationScheme", "ValidatedToken"]
