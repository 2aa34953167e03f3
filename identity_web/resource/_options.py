"""What a protected web API accepts, derived from the `AzureAd` section as Identity.Web does.

- Audiences: `Audience` when set, else `ClientId` and `api://{ClientId}`; plus
  `TokenValidationParameters.ValidAudiences`.
- Issuers: `{Instance}{tenantid}/v2.0` for v2.0 tokens and, on the public cloud,
  `https://sts.windows.net/{tenantid}/` for v1.0 tokens; `{tenantid}` is the token's `tid`.
  A GUID `TenantId` pins `tid`; `common`, `organizations` or a domain name accept any tenant
  whose `iss` matches the template (multi-tenant APIs). Plus
  `TokenValidationParameters.ValidIssuers` (which may use `{tenantid}` too).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.settings import MicrosoftIdentityApplicationOptions

TENANT_PLACEHOLDER = "{tenantid}"
V1_ISSUER = "https://sts.windows.net/{tenantid}/"
#: Hosts whose v1.0 tokens carry the `sts.windows.net` issuer.
PUBLIC_CLOUD_HOSTS = frozenset(
    {"login.microsoftonline.com", "login.windows.net", "login.microsoft.com"}
)
DEFAULT_CLOCK_SKEW = 300.0


@dataclass(frozen=True, slots=True)
class IssuerTemplate:
    """An accepted `iss`, with `{tenantid}` standing for the token's `tid`; `version` is the
    token version this form belongs to (None: either)."""

    template: str
    version: str | None = None

    def matches(self, issuer: str, tenant_id: str | None, version: str) -> bool:
        if self.version is not None and self.version != version:
            return False
        if TENANT_PLACEHOLDER not in self.template:
            return issuer == self.template
        return tenant_id is not None and issuer == self.template.replace(
            TENANT_PLACEHOLDER, tenant_id
        )


@dataclass(frozen=True, slots=True)
class TokenValidationOptions:
    """Everything the validator checks against. Build with `from_settings` or by hand."""

    audiences: tuple[str, ...]
    issuers: tuple[IssuerTemplate, ...]
    tenant_id: str | None = None
    """A tenant GUID the token's `tid` must equal (None: any tenant)."""
    require_bound_tokens: bool = False
    allow_acl_authorization: bool = False
    algorithms: tuple[str, ...] = ("RS256",)
    clock_skew: float = DEFAULT_CLOCK_SKEW
    max_token_length: int = 16 * 1024
    max_header_length: int = 2 * 1024

    @classmethod
    def from_settings(
        cls,
        azure_ad: MicrosoftIdentityApplicationOptions,
        *,
        clock_skew: float = DEFAULT_CLOCK_SKEW,
    ) -> TokenValidationOptions:
        """From `AzureAd`. Raises `ConfigurationError` naming the missing keys."""
        instance, tenant = _authority(azure_ad)
        parameters = azure_ad.token_validation_parameters
        return cls(
            audiences=(*_default_audiences(azure_ad), *parameters.valid_audiences),
            issuers=(
                *_default_issuers(instance),
                *(IssuerTemplate(issuer) for issuer in parameters.valid_issuers),
            ),
            tenant_id=tenant.lower() if _is_guid(tenant) else None,
            require_bound_tokens=azure_ad.require_bound_tokens,
            allow_acl_authorization=azure_ad.allow_web_api_to_be_authorized_by_acl,
            clock_skew=clock_skew,
        )


def metadata_url(azure_ad: MicrosoftIdentityApplicationOptions) -> str:
    """`{Instance}{TenantId}/v2.0/.well-known/openid-configuration`."""
    instance, tenant = _authority(azure_ad)
    return f"{instance}{tenant}/v2.0/.well-known/openid-configuration"


def _authority(azure_ad: MicrosoftIdentityApplicationOptions) -> tuple[str, str]:
    instance, tenant = azure_ad.effective_instance(), azure_ad.effective_tenant_id()
    if instance is None or tenant is None:
        raise ConfigurationError(
            [
                ConfigurationProblem(
                    "AzureAd.TenantId",
                    "a protected web API needs Instance and TenantId (or Authority) to know "
                    "which issuer's keys and tokens to accept",
                )
            ]
        )
    return instance, tenant


def _default_audiences(azure_ad: MicrosoftIdentityApplicationOptions) -> tuple[str, ...]:
    if azure_ad.audience:
        return (azure_ad.audience,)
    if azure_ad.client_id:
        return (azure_ad.client_id, f"api://{azure_ad.client_id}")
    if azure_ad.token_validation_parameters.valid_audiences:
        return ()
    raise ConfigurationError(
        [
            ConfigurationProblem(
                "AzureAd.ClientId",
                "a protected web API needs ClientId, Audience or "
                "TokenValidationParameters.ValidAudiences to know which audience it accepts",
            )
        ]
    )


def _default_issuers(instance: str) -> tuple[IssuerTemplate, ...]:
    v2 = IssuerTemplate(f"{instance}{TENANT_PLACEHOLDER}/v2.0", "2.0")
    if urlsplit(instance).hostname in PUBLIC_CLOUD_HOSTS:
        return (v2, IssuerTemplate(V1_ISSUER, "1.0"))
    return (v2,)


def _is_guid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


__all__ = ["IssuerTemplate", "TokenValidationOptions", "metadata_url"]
