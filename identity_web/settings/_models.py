"""Typed, frozen settings models whose keys are exactly Identity.Web's.

Python attributes are the snake_case of the keys; file keys (PascalCase in Identity.Web) match
case-insensitively, and snake_case attribute names are accepted too. Unknown keys are ignored
for binding, as .NET's binder does. Lists are tuples and maps are read-only, so a settings object
can be shared freely: runtime state (loaded certificates, skipped credentials) never lives here.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_pascal
from pydantic_core import PydanticCustomError

from identity_web.settings._authority import (
    check_url,
    is_unset,
    normalize_instance,
    split_authority,
)
from identity_web.settings._enums import CredentialSource, ProtocolScheme
from identity_web.settings._plugins import is_plugin_name
from identity_web.settings._types import (
    AnyMap,
    Guid,
    HiddenStrMap,
    OptStr,
    StrMap,
    StrTuple,
    empty_hidden_map,
    empty_map,
)

logger = logging.getLogger(__name__)

__all__ = [
    "AcquireTokenOptions",
    "CredentialDescription",
    "CredentialSource",
    "DownstreamApiOptions",
    "ManagedIdentityOptions",
    "ManagedIdentityProviderOptions",
    "MicrosoftIdentityApplicationOptions",
    "ProtocolScheme",
    "TokenValidationParameters",
]


def _normalized_key(key: str) -> str:
    return key.casefold().replace("_", "")


@functools.cache
def _key_index(model: type[BaseModel]) -> dict[str, str]:
    """Case-folded key (alias or attribute name, underscores ignored) → the field's alias."""
    index: dict[str, str] = {}
    for name, info in model.model_fields.items():
        alias = info.alias or name
        index[_normalized_key(alias)] = alias
        index[_normalized_key(name)] = alias
    return index


class SettingsModel(BaseModel):
    """Base of every section: frozen, unknown keys ignored, keys matched case-insensitively."""

    model_config = ConfigDict(
        frozen=True,
        extra="ignore",
        alias_generator=to_pascal,
        coerce_numbers_to_str=True,
        use_enum_values=False,
        use_attribute_docstrings=True,
    )

    @model_validator(mode="before")
    @classmethod
    def _match_keys_case_insensitively(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            return data
        index = _key_index(cls)
        # null means "not set", as in .NET configuration: the field keeps its default.
        return {
            index.get(_normalized_key(str(key)), str(key)): value
            for key, value in data.items()
            if value is not None
        }

    @classmethod
    def canonical_key(cls, key: str) -> str | None:
        """The key as Identity.Web spells it (`clientid` → `ClientId`), or None if unknown."""
        return _key_index(cls).get(_normalized_key(key))

    @classmethod
    def known_keys(cls) -> tuple[str, ...]:
        """The keys of this section as Identity.Web spells them."""
        return tuple(info.alias or name for name, info in cls.model_fields.items())


class CredentialDescription(SettingsModel):
    """One entry of `ClientCredentials` (Identity.Web's `CredentialDescription`)."""

    source_type: Annotated[
        CredentialSource,
        BeforeValidator(CredentialSource.parse),
        WithJsonSchema(
            {
                "anyOf": [
                    {"enum": [member.value for member in CredentialSource]},
                    {"type": "integer", "minimum": 0, "maximum": len(CredentialSource) - 1},
                ]
            }
        ),
    ]
    """Where the credential comes from: a CredentialSource name (any case) or its number."""
    certificate_disk_path: OptStr = None
    """Path: PKCS#12 (.pfx) file of the certificate."""
    certificate_password: OptStr = Field(default=None, repr=False)
    """Path / Base64Encoded: password of the PKCS#12 data."""
    base64_encoded_value: OptStr = Field(default=None, repr=False)
    """Base64Encoded: the PKCS#12 bytes, base64."""
    client_secret: OptStr = Field(default=None, repr=False)
    """ClientSecret: the application secret."""
    key_vault_url: OptStr = None
    """KeyVault: the vault URL, e.g. https://myvault.vault.azure.net."""
    key_vault_certificate_name: OptStr = None
    """KeyVault: the certificate name in the vault."""
    certificate_store_path: OptStr = None
    """StoreWith*: 'StoreLocation/StoreName', e.g. CurrentUser/My."""
    certificate_thumbprint: OptStr = None
    """StoreWithThumbprint: SHA-1 thumbprint (hex)."""
    certificate_distinguished_name: OptStr = None
    """StoreWithDistinguishedName: e.g. CN=MyApp."""
    certificate_subject_name: OptStr = None
    """StoreWithSubjectName: subject name to match."""
    managed_identity_client_id: OptStr = None
    """SignedAssertionFromManagedIdentity / KeyVault: user-assigned identity (absent: system)."""
    token_exchange_url: OptStr = None
    """Audience of the managed identity assertion (default api://AzureADTokenExchange)."""
    token_exchange_authority: OptStr = None
    """Declared by Identity.Web; not used by its managed identity loader."""
    signed_assertion_file_disk_path: OptStr = None
    """SignedAssertionFilePath: the assertion file (default: $AZURE_FEDERATED_TOKEN_FILE)."""
    custom_signed_assertion_provider_name: OptStr = None
    """CustomSignedAssertion: name of the registered provider."""
    custom_signed_assertion_provider_data: AnyMap = Field(default_factory=empty_map, repr=False)
    """CustomSignedAssertion: data passed to the provider."""
    algorithm: OptStr = None
    """Signing algorithm hint."""
    skip: bool = False
    """Skip this credential."""
    use_bound_credential: bool = False
    """Bearer token, but the credential is presented over mTLS."""


REGION_AUTO_DETECT = "TryAutoDetect"
_REGION = re.compile(r"[A-Za-z0-9]+")


def _check_region(value: str | None) -> str | None:
    """An Azure region name (letters and digits: `westus3`) or `TryAutoDetect`, else an error:
    a host name such as `westus3.evil.com` would otherwise be dropped in favour of the global
    endpoint without a word."""
    if value is None:
        return None
    text = value.strip()
    if text.casefold() == REGION_AUTO_DETECT.casefold() or _REGION.fullmatch(text):
        return text
    raise PydanticCustomError(
        "azure_region",
        "not an Azure region; expected a region name of letters and digits (e.g. westus3) "
        "or {auto}",
        {"auto": REGION_AUTO_DETECT},
    )


def _require_list(value: Any) -> Any:
    if isinstance(value, Mapping):
        raise PydanticCustomError(
            "list_expected",
            'must be a list of credential descriptions, e.g. [ {"SourceType": "Path", ...} ]: '
            "wrap the object in [ ]",
        )
    return value


class TokenValidationParameters(SettingsModel):
    """`AzureAd.TokenValidationParameters`: what a protected web API accepts besides the
    defaults derived from `Instance`, `TenantId`, `ClientId` and `Audience`."""

    valid_audiences: StrTuple = ()
    """Further accepted `aud` values."""
    valid_issuers: StrTuple = ()
    """Further accepted `iss` values; `{tenantid}` stands for the token's `tid`."""


KEY_PROVIDERS = ("Software",)
ATTESTATION_PROVIDERS = ("None", "Software")


def _provider_choice(builtin: tuple[str, ...]) -> Any:
    """A built-in name (any case; given back as spelled in `builtin`) or a plug-in name."""

    def check(value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        text = value.strip()
        for name in builtin:
            if text.casefold() == name.casefold():
                return name
        if is_plugin_name(text):
            return text
        raise PydanticCustomError(
            "provider_choice",
            "allowed: {allowed} or a plug-in 'package.module:factory'",
            {"allowed": ", ".join(builtin)},
        )

    return AfterValidator(check)


class ManagedIdentityProviderOptions(SettingsModel):
    """`AzureAd.ManagedIdentity` (identity-web only): where the key of the IMDS v2 binding
    certificate comes from and who attests it, for every managed identity mTLS PoP request of
    the application (pure managed identity and `SignedAssertionFromManagedIdentity` alike:
    they share one certificate cache). docs/managed-identity.md says what each Azure host
    needs."""

    key_provider: Annotated[OptStr, _provider_choice(KEY_PROVIDERS)] = None
    """Software (the default: RSA-2048 in memory), or a plug-in 'package.module:factory'
    returning a KeyProvider (e.g. a key that never leaves hardware)."""
    attestation: Annotated[OptStr, _provider_choice(ATTESTATION_PROVIDERS)] = None
    """None (the default), Software (the identity-web emulator's attestation authority), or a
    plug-in 'package.module:factory' returning an AttestationProvider."""


class MicrosoftIdentityApplicationOptions(SettingsModel):
    """The `AzureAd` section (section name configurable). See `effective_authority()`."""

    instance: OptStr = None
    """Cloud instance, e.g. https://login.microsoftonline.com/ (a trailing / is added)."""
    tenant_id: OptStr = None
    """Tenant: GUID or domain. App tokens need a real tenant, not common/organizations."""
    client_id: OptStr = None
    """Application (client) id. Not needed for pure managed identity."""
    authority: OptStr = None
    """Alternative to Instance + TenantId; ignored (with a warning) when either is set."""
    azure_region: Annotated[OptStr, AfterValidator(_check_region)] = None
    """Regional endpoint (an Azure region name such as westus3) or TryAutoDetect; without it
    mTLS PoP uses the global mtlsauth endpoint."""
    client_credentials: Annotated[
        tuple[CredentialDescription, ...], BeforeValidator(_require_list)
    ] = ()
    """Credentials tried in order; the first that loads is used."""
    send_x5c: bool = Field(default=False, alias="SendX5C")
    """Send the certificate chain (x5c) in client assertions (subject name / issuer)."""
    client_capabilities: StrTuple = ()
    """Client capabilities, e.g. ["cp1"] for continuous access evaluation."""
    enable_pii_logging: bool = False
    """Allow personal data in logs."""
    extra_query_parameters: StrMap = Field(default_factory=empty_map)
    """Query parameters added to every token request."""
    app_home_tenant_id: OptStr = None
    """Home tenant used when TenantId is a meta-tenant."""
    managed_identity: ManagedIdentityProviderOptions = Field(
        default_factory=ManagedIdentityProviderOptions
    )
    """identity-web only: the key and attestation providers of IMDS v2 binding certificates."""

    # -- protecting a web API (identity_web.resource) --
    audience: OptStr = None
    """The `aud` the web API accepts; default: `ClientId` and `api://{ClientId}`."""
    token_validation_parameters: TokenValidationParameters = Field(
        default_factory=TokenValidationParameters
    )
    """Extra audiences and issuers the web API accepts."""
    allow_web_api_to_be_authorized_by_acl: bool = Field(
        default=False, alias="AllowWebApiToBeAuthorizedByACL"
    )
    """Accept tokens with neither `scp` nor `roles` (daemons authorized by an access list)."""
    require_bound_tokens: bool = False
    """Accept only certificate-bound tokens (RFC 8705 `cnf.x5t#S256`), never plain Bearer."""
    client_certificate_header: OptStr = None
    """A trusted proxy header carrying the TLS client certificate (`X-ARR-ClientCert`,
    `X-Forwarded-Client-Cert`, or any name for nginx's `$ssl_client_escaped_cert`). When set,
    the certificate is read only from it; when unset, only from the server's TLS layer."""

    @field_validator("instance")
    @classmethod
    def _normalize_instance(cls, value: str | None) -> str | None:
        return None if value is None else normalize_instance(check_url(value))

    @field_validator("authority")
    @classmethod
    def _check_authority(cls, value: str | None) -> str | None:
        if is_unset(value):
            return None
        assert value is not None
        split_authority(check_url(value))
        return value.strip()

    @model_validator(mode="after")
    def _warn_on_ignored_authority(self) -> MicrosoftIdentityApplicationOptions:
        if self.authority and (self.instance or self.tenant_id):
            logger.warning(
                "Authority '%s' is ignored because Instance '%s' and/or TenantId '%s' are set; "
                "Instance and TenantId win (as in Microsoft.Identity.Web).",
                self.authority,
                self.instance,
                self.tenant_id,
            )
        return self

    def _instance_and_tenant(self) -> tuple[str | None, str | None]:
        if self.instance or self.tenant_id or self.authority is None:
            return self.instance, self.tenant_id
        return split_authority(self.authority)

    def effective_instance(self) -> str | None:
        """The cloud instance with a trailing `/` (from `Instance`, else from `Authority`)."""
        return self._instance_and_tenant()[0]

    def effective_tenant_id(self) -> str | None:
        """The tenant (from `TenantId`, else the first path segment of `Authority`)."""
        return self._instance_and_tenant()[1]

    def effective_authority(self) -> str | None:
        """`{instance}{tenant}/`, e.g. `https://login.microsoftonline.com/contoso/`, or None."""
        instance, tenant = self._instance_and_tenant()
        if instance is None or tenant is None:
            return None
        return f"{instance}{tenant}/"


class ManagedIdentityOptions(SettingsModel):
    """`AcquireTokenOptions.ManagedIdentity`: all None (`{}` in files) means system-assigned."""

    user_assigned_client_id: OptStr = None
    """Client id of a user-assigned managed identity."""
    user_assigned_object_id: OptStr = None
    """Object (principal) id of a user-assigned managed identity."""
    user_assigned_resource_id: OptStr = None
    """Azure resource id of a user-assigned managed identity."""

    @model_validator(mode="after")
    def _at_most_one_id(self) -> ManagedIdentityOptions:
        given = [
            alias
            for alias, value in (
                ("UserAssignedClientId", self.user_assigned_client_id),
                ("UserAssignedObjectId", self.user_assigned_object_id),
                ("UserAssignedResourceId", self.user_assigned_resource_id),
            )
            if value
        ]
        if len(given) > 1:
            raise ValueError(
                f"set at most one of UserAssignedClientId, UserAssignedObjectId, "
                f"UserAssignedResourceId (found {', '.join(given)})"
            )
        return self


class AcquireTokenOptions(SettingsModel):
    """Token acquisition options of a downstream API (`AcquireTokenOptions`)."""

    managed_identity: ManagedIdentityOptions | None = None
    """Use managed identity; {} means system-assigned."""
    tenant: OptStr = None
    """Tenant override for this API (not common/organizations for app tokens)."""
    force_refresh: bool = False
    """Bypass the token cache."""
    claims: OptStr = None
    """Claims challenge JSON to send to the token endpoint."""
    correlation_id: Guid = None
    """Correlation id (GUID) sent to the token endpoint."""
    extra_query_parameters: StrMap = Field(default_factory=empty_map)
    """Query parameters added to this API's token requests."""
    extra_headers_parameters: HiddenStrMap = Field(default_factory=empty_hidden_map)
    """HTTP headers added to the token request."""
    authentication_options_name: OptStr = None
    """Name of the application section to use."""


def _default_to(default: str) -> Any:
    def blank_is_default(value: Any) -> Any:
        return default if value is None or (isinstance(value, str) and not value.strip()) else value

    return BeforeValidator(blank_is_default)


def _none_to_empty(value: Any) -> Any:
    return {} if value is None else value


def _check_optional_url(value: str | None) -> str | None:
    return None if value is None else check_url(value)


def is_mtls_pop_scheme(protocol_scheme: str) -> bool:
    """True for `ProtocolScheme.MTLS_POP` (and its text in any case, spaces around ignored).

    A plain comparison, not a regex: it runs on every cache hit of the header provider."""
    return protocol_scheme is ProtocolScheme.MTLS_POP or (
        protocol_scheme.strip().lower() == "mtls_pop"
    )


class DownstreamApiOptions(SettingsModel):
    """A named downstream API section (Identity.Web's `DownstreamApiOptions`)."""

    base_url: Annotated[OptStr, AfterValidator(_check_optional_url)] = None
    """Base URL of the API."""
    relative_path: Annotated[str, _default_to("")] = ""
    """Path appended to BaseUrl."""
    scopes: StrTuple = ()
    """Scopes; app tokens use one scope ending in /.default. A string is split on spaces."""
    http_method: Annotated[str, _default_to("Get")] = "Get"
    """HTTP method of calls made without an explicit method."""
    protocol_scheme: Annotated[
        ProtocolScheme,
        BeforeValidator(ProtocolScheme.parse),
        WithJsonSchema(
            {
                "type": "string",
                "enum": [member.value for member in ProtocolScheme],
                "description": "any case; absent means Bearer",
            }
        ),
    ] = ProtocolScheme.BEARER
    """Bearer, or MTLS_POP for certificate-bound tokens (any case). Anything else is an error."""
    request_app_token: bool = False
    """Acquire an application token (client credentials or managed identity). Must be true
    (or absent): false asks for a user token, which identity-web does not acquire."""
    acquire_token_options: Annotated[AcquireTokenOptions, BeforeValidator(_none_to_empty)] = Field(
        default_factory=AcquireTokenOptions
    )
    """How the token for this API is acquired."""
    extra_header_parameters: HiddenStrMap = Field(default_factory=empty_hidden_map)
    """HTTP headers added to the API request."""
    extra_query_parameters: StrMap = Field(default_factory=empty_map)
    """Query parameters added to the API request URL."""
    accept_header: Annotated[str, _default_to("application/json")] = "application/json"
    """Accept header of API requests."""
    content_type: Annotated[str, _default_to("application/json")] = "application/json"
    """Content-Type of API request bodies."""
    allow_http_to_loopback: bool = False
    """identity-web only: allow a Bearer token over plain http:// when BaseUrl is a loopback
    address (127.0.0.1, ::1, localhost), for local development. Never for MTLS_POP."""

    @property
    def is_mtls_pop(self) -> bool:
        """True when `ProtocolScheme` is `MTLS_POP`: a certificate-bound token."""
        return self.protocol_scheme is ProtocolScheme.MTLS_POP
