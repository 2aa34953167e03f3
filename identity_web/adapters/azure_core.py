"""Azure SDK credentials: `TokenCredential` + `SupportsTokenInfo`, and the async pair.

An Azure SDK client (`BlobServiceClient(url, credential=...)`, `SecretClient`) asks its
credential for a token through azure-core's `BearerTokenCredentialPolicy`, which sends it as
`Authorization: Bearer …`. One core turns the policy's arguments into a token request and the
result into azure-core's values; the sync and async credentials only differ in how they call
the token acquirer. The arguments are honoured as azure-identity honours them:

* `scopes`: exactly one (`…/.default`), as identity-web acquires app tokens;
* `claims`: a claims challenge; the token is requested anew with it (no cache read);
* `tenant_id`: the configured tenant, or one named in `additionally_allowed_tenants` (`*`: any);
  another is refused with `ClientAuthenticationError`; a managed identity ignores it;
* `enable_cae`: the caller can handle CAE claims challenges. Tokens are CAE tokens when
  `AzureAd.ClientCapabilities` holds `cp1`; a token without CAE is always acceptable to such
  a caller, so the flag never fails a request.

A section with `ProtocolScheme: MTLS_POP` is refused when the credential is made: the policy
always sends `Bearer` and azure-core's transports cannot present the binding certificate.
Failures reach the SDK as azure-core's `ClientAuthenticationError`, caused by the typed
identity-web error.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager, contextmanager
from dataclasses import dataclass

from identity_web._errors import IdentityWebError
from identity_web._results import AcquireTokenResult
from identity_web.acquisition import TokenAcquirer
from identity_web.adapters._sections import Services, missing, refuse_mtls_pop
from identity_web.settings import AcquireTokenOptions, IdentityWebSettings

try:
    from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
    from azure.core.exceptions import ClientAuthenticationError
except ImportError as error:
    raise missing("azure-core", "azure") from error

__all__ = ["AsyncIdentityWebCredential", "IdentityWebCredential"]

_MTLS_POP_REFUSED = (
    "Azure SDK clients send every token as 'Bearer' (azure-core's BearerTokenCredentialPolicy) "
    "and cannot present the binding certificate, so a bound token would be rejected. Give "
    "token_credential() a Bearer section (or none), and call mTLS PoP APIs with "
    "http_client(name) or DownstreamApi."
)


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """One `get_token` call as the token acquirer takes it."""

    scope: str
    options: AcquireTokenOptions


class CredentialCore:
    """What the sync and async credentials share: arguments in, azure-core values out."""

    def __init__(
        self,
        settings: IdentityWebSettings,
        name: str | None,
        additionally_allowed_tenants: Collection[str],
    ) -> None:
        options = settings.downstream_api(name) if name is not None else None
        if options is not None:
            refuse_mtls_pop(options, name, _MTLS_POP_REFUSED)
        self._options = options.acquire_token_options if options else AcquireTokenOptions()
        self._tenant = self._options.tenant or settings.azure_ad.effective_tenant_id() or ""
        self._allowed = frozenset(t.casefold() for t in additionally_allowed_tenants)

    def request(
        self, scopes: tuple[str, ...], claims: str | None, tenant_id: str | None
    ) -> TokenRequest:
        if len(scopes) != 1 or not scopes[0].strip():
            raise ValueError(
                f"identity-web credentials take exactly one scope per token request (got "
                f"{len(scopes)}), e.g. 'https://storage.azure.com/.default'"
            )
        update: dict[str, object] = {"claims": claims or self._options.claims}
        if self._options.managed_identity is None:
            update["tenant"] = self._resolve_tenant(tenant_id)
        return TokenRequest(scopes[0].strip(), self._options.model_copy(update=update))

    def request_from(
        self, scopes: tuple[str, ...], options: TokenRequestOptions | None
    ) -> TokenRequest:
        given = options or {}
        if given.get("pop"):  # newer azure-core: a signed-request (SHR) PoP token
            raise ValueError(
                "identity-web credentials acquire Bearer tokens only; proof-of-possession "
                "token requests ('pop' option) are not supported"
            )
        return self.request(scopes, given.get("claims"), given.get("tenant_id"))

    def _resolve_tenant(self, tenant_id: str | None) -> str | None:
        """The tenant to ask, as azure-identity decides it (the section's, or None: AzureAd's)."""
        if not tenant_id or tenant_id.casefold() == self._tenant.casefold():
            return self._options.tenant
        if "*" in self._allowed or tenant_id.casefold() in self._allowed:
            return tenant_id
        raise ClientAuthenticationError(
            message=f"this credential acquires tokens for tenant '{self._tenant}'; a token for "
            f"tenant '{tenant_id}' was requested. To allow it, pass "
            f"additionally_allowed_tenants=['{tenant_id}'] (or ['*']) to token_credential()."
        )


def access_token(result: AcquireTokenResult) -> AccessToken:
    return AccessToken(result.access_token, int(result.expires_on))


def token_info(result: AcquireTokenResult) -> AccessTokenInfo:
    refresh_on = int(result.refresh_on) if result.refresh_on is not None else None
    return AccessTokenInfo(
        result.access_token,
        int(result.expires_on),
        token_type="Bearer",  # noqa: S106 - the token's scheme, not a secret
        refresh_on=refresh_on,
    )


@contextmanager
def as_azure_errors() -> Iterator[None]:
    """Our typed errors reach Azure SDK code as `ClientAuthenticationError`, chained."""
    try:
        yield
    except IdentityWebError as error:
        raise ClientAuthenticationError(message=str(error)) from error


class _Credential:
    """Shared state and repr of the two credentials (no token is ever held or shown)."""

    def __init__(
        self,
        services: Services,
        name: str | None = None,
        *,
        additionally_allowed_tenants: Collection[str] = (),
    ) -> None:
        self._core = CredentialCore(services.settings, name, additionally_allowed_tenants)
        self._acquirer: TokenAcquirer = services.token_acquirer
        self._name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r})"


class IdentityWebCredential(_Credential, AbstractContextManager["IdentityWebCredential"]):
    """An azure-core `TokenCredential` and `SupportsTokenInfo` over identity-web's acquirer.

    Closing it releases nothing: the connections belong to the services that made it.
    """

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,  # honoured through AzureAd.ClientCapabilities
        **kwargs: object,  # azure-core's protocol passes its own extras; none change the token
    ) -> AccessToken:
        return access_token(self._acquire(self._core.request(scopes, claims, tenant_id)))

    def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        return token_info(self._acquire(self._core.request_from(scopes, options)))

    def _acquire(self, request: TokenRequest) -> AcquireTokenResult:
        with as_azure_errors():
            return self._acquirer.acquire_token_for_app(request.scope, request.options)

    def close(self) -> None:
        """Nothing to release (the services own the connections)."""

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncIdentityWebCredential(
    _Credential, AbstractAsyncContextManager["AsyncIdentityWebCredential"]
):
    """An azure-core `AsyncTokenCredential` and `AsyncSupportsTokenInfo` (same core as above)."""

    async def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,  # honoured through AzureAd.ClientCapabilities
        **kwargs: object,  # azure-core's protocol passes its own extras; none change the token
    ) -> AccessToken:
        return access_token(await self._acquire(self._core.request(scopes, claims, tenant_id)))

    async def get_token_info(
        self, *scopes: str, options: TokenRequestOptions | None = None
    ) -> AccessTokenInfo:
        return token_info(await self._acquire(self._core.request_from(scopes, options)))

    async def _acquire(self, request: TokenRequest) -> AcquireTokenResult:
        with as_azure_errors():
            return await self._acquirer.acquire_token_for_app_async(request.scope, request.options)

    async def close(self) -> None:
        """Nothing to release (the services own the connections)."""

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
