"""`ProtectedWebApi`: the framework-neutral core the ASGI, FastAPI and Flask adapters share.

It reads the `Authorization` header (`Bearer <token>` or `mtls_pop <token>`, scheme in any
case), takes the client certificate from the one trusted place, validates, and turns a refusal
into its HTTP answer: 401 with `WWW-Authenticate: <scheme> error="invalid_token",
error_description="…"` (the `mtls_pop` scheme for bound tokens, RFC 8705 with Microsoft's
scheme name), 403 `insufficient_scope`, or 503 when no signing key could be had. Refusals are
logged at INFO by class and reason; the token never is.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from identity_web.resource._certificates import ClientCertificateSource
from identity_web.resource._errors import TokenValidationError
from identity_web.resource._keys import SigningKeys
from identity_web.resource._token import AuthorizationScheme, ValidatedToken
from identity_web.resource._validator import TokenValidator
from identity_web.settings import (
    DEFAULT_SECTION,
    IdentityWebSettings,
    MicrosoftIdentityApplicationOptions,
    load_settings,
)

logger = logging.getLogger(__name__)

MAX_AUTHORIZATION_LENGTH = 32 * 1024


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """The HTTP answer to a refused request."""

    status: int
    headers: Mapping[str, str]
    body: bytes


class ProtectedWebApi:
    """Validates the requests of one web API: token plus client certificate."""

    def __init__(
        self, validator: TokenValidator, certificates: ClientCertificateSource | None = None
    ) -> None:
        self.validator = validator
        self.certificates = certificates or ClientCertificateSource()

    @classmethod
    def from_settings(
        cls,
        settings: IdentityWebSettings | MicrosoftIdentityApplicationOptions | None = None,
        *,
        config_dir: str | os.PathLike[str] | None = None,
        section: str = DEFAULT_SECTION,
        keys: SigningKeys | None = None,
        ca_bundle: str | None = None,
    ) -> ProtectedWebApi:
        """From settings given, or loaded from `config_dir` the way `load_settings` does
        (appsettings.json, environment variables, …)."""
        if settings is None:
            settings = load_settings(config_dir, section=section).settings
        azure_ad = settings.azure_ad if isinstance(settings, IdentityWebSettings) else settings
        validator = TokenValidator.from_settings(azure_ad, keys=keys, ca_bundle=ca_bundle)
        return cls(validator, ClientCertificateSource(azure_ad.client_certificate_header))

    def authenticate(
        self, authorization: str | None, certificate_thumbprint: str | None
    ) -> ValidatedToken:
        """Validate one request (may block on a key fetch). Raises `TokenValidationError`."""
        scheme, token = self._credentials(authorization)
        try:
            return self.validator.validate(
                token, scheme=scheme, certificate_thumbprint=certificate_thumbprint
            )
        except TokenValidationError as error:
            raise self._refused(error, scheme) from None

    async def authenticate_async(
        self, authorization: str | None, certificate_thumbprint: str | None
    ) -> ValidatedToken:
        """`authenticate` for the event loop."""
        scheme, token = self._credentials(authorization)
        try:
            return await self.validator.validate_async(
                token, scheme=scheme, certificate_thumbprint=certificate_thumbprint
            )
        except TokenValidationError as error:
            raise self._refused(error, scheme) from None

    def authorize(
        self, token: ValidatedToken, *, scopes: Sequence[str] = (), roles: Sequence[str] = ()
    ) -> None:
        """Raise `InsufficientScopeError` unless `token` has one of `scopes` (when given) and
        one of `roles` (when given)."""
        try:
            token.require_scopes(*scopes)
            token.require_roles(*roles)
        except TokenValidationError as error:
            raise self._refused(error, token.scheme) from None

    def _credentials(self, authorization: str | None) -> tuple[AuthorizationScheme, str]:
        header = (authorization or "").strip()
        if not header:
            raise self._refused(TokenValidationError("No Authorization header was sent"), None)
        if len(header) > MAX_AUTHORIZATION_LENGTH:
            raise self._refused(TokenValidationError("The Authorization header is too long"), None)
        name, _, token = header.partition(" ")
        scheme = AuthorizationScheme.parse(name)
        if scheme is None:
            shown = name[:32].encode("ascii", "replace").decode("ascii")
            raise self._refused(
                TokenValidationError(f"Unsupported authorization scheme '{shown}'"), None
            )
        if not token.strip():
            raise self._refused(
                TokenValidationError("The Authorization header carries no token"), scheme
            )
        return scheme, token.strip()

    def _refused(
        self, error: TokenValidationError, scheme: AuthorizationScheme | None
    ) -> TokenValidationError:
        bound_only = self.validator.options.require_bound_tokens
        error.scheme = (
            AuthorizationScheme.MTLS_POP if bound_only else (scheme or AuthorizationScheme.BEARER)
        )
        logger.info("refused a request: %s: %s", type(error).__name__, error.description)
        return error

    @staticmethod
    def error_response(error: TokenValidationError) -> ErrorResponse:
        """The status, headers and JSON body answering a refused request."""
        body = {"error": error.error, "error_description": error.description}
        headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
        if error.status == 503:
            headers["Retry-After"] = "30"
        else:
            headers["WWW-Authenticate"] = challenge(error)
        return ErrorResponse(error.status, headers, json.dumps(body).encode("utf-8"))


def challenge(error: TokenValidationError) -> str:
    """`<scheme> error="<code>", error_description="<reason>"` (RFC 6750 §3)."""
    description = error.description.replace("\\", "\\\\").replace('"', '\\"')
    return f'{error.scheme} error="{error.error}", error_description="{description}"'


__all__ = ["ErrorResponse", "ProtectedWebApi", "challenge"]
