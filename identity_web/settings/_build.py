"""Every check that can be made before the network, in one function: `check_build`.

`TokenAcquirerFactory.build()` and `identity-web config validate` both call it, so they give
one verdict: a configuration that `config validate` accepts builds, and one that would fail
before any network call fails in both, with a `ConfigurationError` naming every key path.

What is checked, for the application section and for each downstream API section in use:

* `RequestAppToken: false` asks for a user token, which identity-web does not acquire.
* A section that asks for a token (Scopes, `MTLS_POP`, `RequestAppToken: true`, a managed
  identity) needs a usable scope ending in `/.default` — never an anonymous call instead.
* No token travels over plain `http://`: `BaseUrl` must be https, except a Bearer call to a
  loopback address with `AllowHttpToLoopback: true`; the authority (`Instance`, `Authority`)
  is always https. `plain_http_refusal` is the same rule for the runtime guard.
* App tokens from the application need `ClientId`, an authority, a credential that is not
  skipped, and a real tenant (not `common`, `organizations`, `consumers`); `MTLS_POP` needs
  an Entra ID workforce authority (B2C and External ID (CIAM) have no mTLS token endpoint).
* Each `ClientCredentials` entry (unless `Skip`) has the keys its SourceType needs, and a
  `KeyVaultUrl` is https.
* A plug-in named in `ManagedIdentity.KeyProvider` or `ManagedIdentity.Attestation`
  (`package.module:factory`) imports and is callable.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from urllib.parse import urlsplit

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.settings._enums import CredentialSource
from identity_web.settings._models import DownstreamApiOptions, MicrosoftIdentityApplicationOptions
from identity_web.settings._plugins import is_plugin_name, plugin_factory
from identity_web.settings._problems import format_path
from identity_web.settings._root import IdentityWebSettings

#: Tenants that are not a tenant; app tokens cannot be asked from them.
META_TENANTS = frozenset({"common", "organizations", "consumers"})

#: The keys a SourceType needs (for the SourceTypes identity-web loads): (attribute, key).
_REQUIRED_KEYS: Mapping[CredentialSource, tuple[tuple[str, str], ...]] = {
    CredentialSource.Path: (("certificate_disk_path", "CertificateDiskPath"),),
    CredentialSource.Base64Encoded: (("base64_encoded_value", "Base64EncodedValue"),),
    CredentialSource.ClientSecret: (("client_secret", "ClientSecret"),),
    CredentialSource.KeyVault: (
        ("key_vault_url", "KeyVaultUrl"),
        ("key_vault_certificate_name", "KeyVaultCertificateName"),
    ),
}

_LOOPBACK_NAMES = frozenset({"localhost"})


def check_build(settings: IdentityWebSettings, apis: Iterable[str]) -> None:
    """Raise one ConfigurationError listing every problem of the application section and of
    the downstream API sections `apis` that would make a call fail before the network."""
    names = list(apis)
    problems = application_problems(settings, names)
    for name in names:
        problems += downstream_problems(settings, name)
    if problems:
        raise ConfigurationError(problems)


def application_problems(
    settings: IdentityWebSettings, apis: Iterable[str] = ()
) -> list[ConfigurationProblem]:
    """Problems of the application section on its own (authority scheme, credentials)."""
    app = settings.azure_ad
    section = settings.raw.actual_key(settings.section) or settings.section
    problems: list[ConfigurationProblem] = []
    for key, value in (("Instance", app.instance), ("Authority", app.authority)):
        if value is not None and urlsplit(value).scheme.lower() != "https":
            problems.append(
                ConfigurationProblem(
                    f"{section}.{key}",
                    f"found {value!r}; the authority must use https: client credentials and "
                    "tokens never travel over plain HTTP",
                )
            )
    problems += _credential_problems(app, section)
    problems += _provider_problems(app, section)
    if app.client_credentials and not any(_uses_application(o) for o in _valid(settings, apis)):
        # Used on its own (a scope given per call): the sections that use it check it otherwise.
        problems += _tenant_problems(app.effective_tenant_id(), f"{section}.TenantId", "")
    return problems


def downstream_problems(settings: IdentityWebSettings, name: str) -> list[ConfigurationProblem]:
    """Problems of the downstream API section `name` as the package would call it."""
    try:
        options = settings.downstream_api(name)
    except ConfigurationError as error:
        return list(error.problems)
    path = format_path(list(settings.downstream_api_path(name) or (name,)))
    raw = settings.raw_section(name)
    problems: list[ConfigurationProblem] = []
    if raw.get("RequestAppToken") is not None and not options.request_app_token:
        problems.append(
            ConfigurationProblem(
                f"{path}.RequestAppToken",
                "found false; identity-web acquires app tokens only (user flows are out of "
                "scope): set it to true, or remove it",
            )
        )
    problems += call_problems(options, path)
    if _uses_application(options):
        problems += _application_for(settings, options, path)
    return problems


def _uses_application(options: DownstreamApiOptions) -> bool:
    """The section's token comes from the application's credentials (not a managed identity)."""
    return asks_for_token(options) and options.acquire_token_options.managed_identity is None


def call_problems(options: DownstreamApiOptions, path: str) -> list[ConfigurationProblem]:
    """The rules one call's effective options must meet (usable scope, no token over plain
    HTTP), with `path` the section's display path."""
    if not asks_for_token(options):
        return []
    problems = _scope_problems(options, path)
    if options.base_url is not None:
        refusal = plain_http_refusal(
            options.base_url,
            bound=options.is_mtls_pop,
            allow_http_to_loopback=options.allow_http_to_loopback,
        )
        if refusal:
            problems.append(ConfigurationProblem(f"{path}.BaseUrl", refusal))
    return problems


def check_call(options: DownstreamApiOptions, *, api: str) -> None:
    """For the runtime side: raise a ConfigurationError when the effective options of one call
    (configured section + per-call overrides) would send no token where one is asked for, or a
    token over plain HTTP. `build()` already refused what the settings alone say."""
    problems = call_problems(options, api)
    if problems:
        raise ConfigurationError(problems)


def asks_for_token(options: DownstreamApiOptions) -> bool:
    """True when calls of this section carry a token (else Identity.Web calls anonymously)."""
    return bool(
        options.scopes
        or options.is_mtls_pop
        or options.request_app_token
        or options.acquire_token_options.managed_identity is not None
    )


def plain_http_refusal(url: str, *, bound: bool, allow_http_to_loopback: bool) -> str:
    """Why a token may not be sent to `url` ("" when it may): https always may; http:// only
    for a Bearer token to a loopback host with `AllowHttpToLoopback: true`."""
    parts = urlsplit(url)
    if parts.scheme.lower() == "https":
        return ""
    found = f"found {url!r}; a token is never sent over plain http://"
    if bound:
        return f"{found}: an MTLS_POP token is bound to a TLS client certificate, use https"
    if not _is_loopback(parts.hostname or ""):
        return f"{found}: use https"
    if not allow_http_to_loopback:
        return (
            f"{found}: use https, or set AllowHttpToLoopback: true in this section to allow "
            "it to this loopback address (local development only)"
        )
    return ""


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _scope_problems(options: DownstreamApiOptions, path: str) -> list[ConfigurationProblem]:
    scope = options.scopes[0].strip() if options.scopes else ""
    if not scope:
        return [
            ConfigurationProblem(
                f"{path}.Scopes",
                "no usable scope, yet this section asks for a token "
                '(set Scopes, e.g. ["api://my-api/.default"]); it would otherwise call '
                "anonymously",
            )
        ]
    if not scope.endswith("/.default"):
        return [
            ConfigurationProblem(
                f"{path}.Scopes",
                f"IDW10404: found {scope!r}; app tokens need a scope of the form "
                "'AppIdUri/.default'",
            )
        ]
    return []


def _application_for(
    settings: IdentityWebSettings, options: DownstreamApiOptions, path: str
) -> list[ConfigurationProblem]:
    """An app token from the application: the application section must be able to ask."""
    app = settings.azure_ad
    section = settings.raw.actual_key(settings.section) or settings.section
    problems: list[ConfigurationProblem] = []
    if not app.client_id:
        problems.append(
            ConfigurationProblem(
                f"{section}.ClientId",
                f"required for {path}'s app token (or set {path}.AcquireTokenOptions."
                "ManagedIdentity to use a managed identity)",
            )
        )
    if app.effective_authority() is None:
        problems.append(
            ConfigurationProblem(
                f"{section}.Instance",
                f"set Instance and TenantId (or Authority) for {path}'s app token",
            )
        )
    if not any(not credential.skip for credential in app.client_credentials):
        problems.append(
            ConfigurationProblem(
                f"{section}.ClientCredentials",
                f"no credential (empty, absent or every entry skipped) for {path}'s app token; "
                'add one, e.g. {"SourceType": "Path", "CertificateDiskPath": "/certs/app.pfx"}, '
                f"or set {path}.AcquireTokenOptions.ManagedIdentity",
            )
        )
    override = options.acquire_token_options.tenant
    tenant_path = f"{path}.AcquireTokenOptions.Tenant" if override else f"{section}.TenantId"
    why = f"{path} uses MTLS_POP: " if options.is_mtls_pop else ""
    problems += _tenant_problems(override or app.effective_tenant_id(), tenant_path, why)
    if options.is_mtls_pop:
        problems += _mtls_authority_problems(settings, section, path)
    return problems


def _tenant_problems(tenant: str | None, where: str, why: str) -> list[ConfigurationProblem]:
    if tenant is None or tenant.strip("/").lower() not in META_TENANTS:
        return []
    return [
        ConfigurationProblem(
            where,
            f"IDW10405: {why}found {tenant!r}; app tokens need a tenant ID or domain name, "
            "not 'common', 'organizations' or 'consumers'",
        )
    ]


def _mtls_authority_problems(
    settings: IdentityWebSettings, section: str, path: str
) -> list[ConfigurationProblem]:
    app = settings.azure_ad
    instance = app.effective_instance() or ""
    host = (urlsplit(instance).hostname or "").lower()
    texts = " ".join(value.lower() for value in (app.instance or "", app.authority or ""))
    raw = settings.raw.get(settings.section)
    b2c_policy = isinstance(raw, Mapping) and bool(raw.get("SignUpSignInPolicyId"))
    if host.endswith("b2clogin.com") or "/tfp/" in texts or b2c_policy:
        kind = "an Azure AD B2C authority"
    elif host.endswith(".ciamlogin.com"):
        kind = "an External ID (CIAM) authority"
    else:
        return []
    return [
        ConfigurationProblem(
            f"{section}.Instance",
            f"{path} uses MTLS_POP, but this is {kind} ({instance}): mTLS PoP tokens are "
            "issued by Entra ID workforce tenants only (B2C and CIAM have no mTLS token "
            "endpoint); use ProtocolScheme Bearer",
        )
    ]


#: Sources that cannot present their credential over mTLS, and what to do instead.
_UNBOUNDABLE = {
    CredentialSource.ClientSecret: (
        "a client secret cannot be bound to a certificate; remove UseBoundCredential or use a "
        "certificate credential"
    ),
    CredentialSource.SignedAssertionFilePath: (
        "IDW10115: a signed assertion read from a file cannot be bound to a certificate; "
        "remove UseBoundCredential, or use a certificate or SignedAssertionFromManagedIdentity"
    ),
}


def _credential_problems(
    app: MicrosoftIdentityApplicationOptions, section: str
) -> list[ConfigurationProblem]:
    problems: list[ConfigurationProblem] = []
    for index, credential in enumerate(app.client_credentials):
        refusal = _UNBOUNDABLE.get(credential.source_type)
        if credential.use_bound_credential and not credential.skip and refusal:
            problems.append(
                ConfigurationProblem(
                    f"{section}.ClientCredentials[{index}].UseBoundCredential", refusal
                )
            )
        if credential.skip:
            continue
        where = f"{section}.ClientCredentials[{index}]"
        for attribute, key in _REQUIRED_KEYS.get(credential.source_type, ()):
            if not (getattr(credential, attribute) or "").strip():
                problems.append(
                    ConfigurationProblem(
                        f"{where}.{key}", f"SourceType {credential.source_type.value} needs {key}"
                    )
                )
        vault = credential.key_vault_url
        if credential.source_type is CredentialSource.KeyVault and vault and _not_https(vault):
            problems.append(
                ConfigurationProblem(
                    f"{where}.KeyVaultUrl",
                    f"found {vault!r}; Key Vault must be reached over https: the certificate's "
                    "private key never travels over plain HTTP",
                )
            )
    return problems


def _provider_problems(
    app: MicrosoftIdentityApplicationOptions, section: str
) -> list[ConfigurationProblem]:
    """A plug-in named in `ManagedIdentity.KeyProvider` / `.Attestation` must be importable
    (built-in names were checked when the settings were read)."""
    chosen = app.managed_identity
    problems: list[ConfigurationProblem] = []
    for key, value in (("KeyProvider", chosen.key_provider), ("Attestation", chosen.attestation)):
        if value is None or not is_plugin_name(value):
            continue
        try:
            plugin_factory(value)
        except ValueError as error:
            problems.append(ConfigurationProblem(f"{section}.ManagedIdentity.{key}", str(error)))
    return problems


def _not_https(url: str) -> bool:
    parts = urlsplit(url.strip())
    return parts.scheme.lower() != "https" or not parts.hostname


def _valid(settings: IdentityWebSettings, apis: Iterable[str]) -> list[DownstreamApiOptions]:
    found = []
    for name in apis:
        try:
            found.append(settings.downstream_api(name))
        except ConfigurationError:
            continue  # reported by downstream_problems
    return found
