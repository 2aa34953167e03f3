"""Identity.Web keys that identity-web does not bind, per section, and what becomes of them.

Every section the package reads is strict: a key is either bound by the model, or listed here,
or an error with a did-you-mean. Listed keys are of two kinds:

* `IGNORED`: Identity.Web / ASP.NET / MSAL keys of web apps and web APIs that a daemon has no
  use for (`Domain`, `CallbackPath`, …). They are read, not acted on, and named in one WARNING
  per load. docs/configuration.md lists them; keep the two in step.
* `UNSUPPORTED`: keys that would make Identity.Web acquire another kind of token or make
  another kind of call (user flows, signed-HTTP-request PoP). Acting as if they were absent
  would do something the user did not ask for, so they are errors, with the reason.
"""

from __future__ import annotations

from collections.abc import Mapping

from identity_web.settings._models import (
    AcquireTokenOptions,
    CredentialDescription,
    DownstreamApiOptions,
    ManagedIdentityOptions,
    MicrosoftIdentityApplicationOptions,
    SettingsModel,
)

_APPLICATION_IGNORED = (
    # Microsoft.Identity.Web's MicrosoftIdentityOptions (web apps, web APIs, B2C)
    *("Domain", "Audience", "Audiences", "AllowWebApiToBeAuthorizedByACL", "Name"),
    *("SignUpSignInPolicyId", "ResetPasswordPolicyId", "EditProfilePolicyId", "DefaultUserFlow"),
    *("WithSpaAuthCode", "ResetPasswordPath", "ErrorPath", "UseFastUnboundedCache"),
    *("PartitionAppTokenCacheByAudience", "LegacyCacheCompatibilityEnabled"),
    *("UserAssignedManagedIdentityClientId", "ClientSecret", "ClientCertificates"),
    *("TokenDecryptionCertificates", "TokenDecryptionCredentials", "Scopes", "Scope"),
    *("ClientCredentialsUsingManagedIdentity", "EnableCacheSynchronization"),
    # MSAL's ConfidentialClientApplicationOptions
    *("AadAuthorityAudience", "AzureCloudInstance", "ClientName", "ClientVersion", "LogLevel"),
    *("IsDefaultPlatformLoggingEnabled", "RedirectUri", "Component", "InstanceDiscoveryEnabled"),
    # ASP.NET Core's OpenIdConnectOptions / JwtBearerOptions
    *("CallbackPath", "SignedOutCallbackPath", "SignedOutRedirectUri", "ResponseType"),
    *("Prompt", "SaveTokens", "UsePkce", "RemoteSignOutPath", "MetadataAddress"),
    *("RequireHttpsMetadata", "GetClaimsFromUserInfoEndpoint", "MapInboundClaims"),
    *("ClaimsIssuer", "TokenValidationParameters", "SkipUnrecognizedRequests", "UseTokenLifetime"),
)

_CREDENTIAL_IGNORED = (
    *("Certificate", "CachedValue", "CredentialType", "Id"),
    "DecryptKeysAuthenticationOptions",  # AutoDecryptKeys: web-API token decryption
)

_SIGNED_HTTP_POP = "signed HTTP request PoP is not supported (use ProtocolScheme MTLS_POP)"
_USER_FLOWS = "user flows are out of scope: identity-web acquires app tokens only"

#: Identity.Web keys whose effect identity-web cannot give, with the reason (errors).
UNSUPPORTED: Mapping[type[SettingsModel], Mapping[str, str]] = {
    CredentialDescription: {
        "Container": "Identity.Web's generic alias; use the SourceType's own key "
        "(CertificateDiskPath, KeyVaultUrl, CertificateStorePath)",
        "ReferenceOrValue": "Identity.Web's generic alias; use the SourceType's own key "
        "(Base64EncodedValue, ClientSecret, KeyVaultCertificateName, CertificateThumbprint …)",
        "ReferenceOrLocation": "Identity.Web's generic alias; use the SourceType's own key",
    },
    DownstreamApiOptions: {
        # Identity.Web's older DownstreamWebApiOptions (Microsoft.Identity.Web.DownstreamWebApi)
        "UserFlow": _USER_FLOWS,
        "Tenant": "set AcquireTokenOptions.Tenant instead",
    },
    AcquireTokenOptions: {
        "PopPublicKey": _SIGNED_HTTP_POP,
        "PopClaim": _SIGNED_HTTP_POP,
        "UserFlow": _USER_FLOWS,
        "LongRunningWebApiSessionKey": _USER_FLOWS,
        "FmiPath": "federated managed identity paths (FMI) are not supported",
        "ExtraParameters": "not configurable from settings (code only in Identity.Web)",
    },
}

#: Identity.Web keys read but not acted on (a warning, once per load).
IGNORED: Mapping[type[SettingsModel], frozenset[str]] = {
    MicrosoftIdentityApplicationOptions: frozenset(key.casefold() for key in _APPLICATION_IGNORED),
    CredentialDescription: frozenset(key.casefold() for key in _CREDENTIAL_IGNORED),
    DownstreamApiOptions: frozenset(),
    AcquireTokenOptions: frozenset(),
    ManagedIdentityOptions: frozenset(),
}


def ignored(model: type[SettingsModel], key: str) -> bool:
    return key.strip().casefold() in IGNORED.get(model, frozenset())


def unsupported(model: type[SettingsModel], key: str) -> str | None:
    """Why `key` cannot be honoured in `model`'s section, or None."""
    folded = key.strip().casefold()
    for name, reason in UNSUPPORTED.get(model, {}).items():
        if name.casefold() == folded:
            return reason
    return None


def ignored_keys(model: type[SettingsModel]) -> tuple[str, ...]:
    """The ignored keys of a section, as Identity.Web spells them (for docs and tests)."""
    if model is MicrosoftIdentityApplicationOptions:
        return _APPLICATION_IGNORED
    return _CREDENTIAL_IGNORED if model is CredentialDescription else ()
