"""Entra ID specifics: authorities, clouds, the mTLS token endpoint rule, AADSTS classification.

The mTLS endpoint rule (wire-protocol §2.2, following MSAL .NET):

1. `login.usgovcloudapi.net` and `login.chinacloudapi.cn` are refused with the host to use.
2. A host starting with `login.` is mapped statically: the public-cloud aliases go to
   `mtlsauth.microsoft.com`; any other `login.X` goes to `mtlsauth.X` (lower-cased). A valid
   region becomes a prefix (`eastus.mtlsauth.microsoft.com`). Port and path are kept.
3. Any other host of a known Entra ID domain (`sts.windows.net`, `mtlsauth.microsoft.com`,
   `login-us.microsoftonline.com` …) is refused, as .NET does.
4. Every other host (a custom or local authority such as the emulator on 127.0.0.1) is asked
   for its OpenID configuration; its `mtls_endpoint_aliases.token_endpoint` (RFC 8705 §5) is the
   mTLS token endpoint. No alias → a clear error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from identity_web._errors import (
    InvalidRequestError,
    NetworkError,
    ServiceError,
    TokenAcquisitionError,
)
from identity_web.protocol._http import HttpRequest, HttpResponse, RetryPolicy
from identity_web.protocol.imds import imds_base
from identity_web.protocol.oauth2 import LIBRARY_HEADERS, STS_RETRY, parse_error_response
from identity_web.protocol.steps import Step

#: `AzureRegion` value asking for auto-detection (Identity.Web / MSAL spelling).
REGION_AUTO_DETECT = "TryAutoDetect"

PUBLIC_CLOUD_HOSTS = frozenset(
    {"login.microsoftonline.com", "login.windows.net", "login.microsoft.com"}
)
PUBLIC_MTLS_HOST = "mtlsauth.microsoft.com"

#: Deprecated sovereign aliases refused for mTLS PoP, with the host to use instead.
DEPRECATED_MTLS_HOSTS: Mapping[str, str] = {
    "login.usgovcloudapi.net": "login.microsoftonline.us",
    "login.chinacloudapi.cn": "login.partner.microsoftonline.cn",
}

#: DNS domains of Entra ID clouds. A host in one of them that does not start with `login.` is
#: not a token-service host we can map, and is refused (never sent to discovery).
ENTRA_DOMAINS = frozenset(
    {
        "microsoftonline.com",
        "microsoft.com",
        "windows.net",
        "microsoftonline.us",
        "usgovcloudapi.net",
        "microsoftonline.cn",
        "chinacloudapi.cn",
        "microsoftonline.de",
        "sovcloud-identity.fr",
        "sovcloud-identity.de",
        "sovcloud-identity.sg",
        "windows-ppe.net",
        "microsoft-ppe.com",
    }
)

#: Tenants that are not a tenant; app tokens cannot be asked from them.
NON_TENANTS = frozenset({"common", "organizations", "consumers"})

#: AADSTS codes after which the certificate is reloaded and the request retried once:
#: 700027 (signature/key not valid), 700024 (assertion not in its valid time range),
#: 7000214 (certificate revoked), 1000502 (certificate outside its validity period).
CERTIFICATE_RELOAD_CODES = frozenset({700027, 700024, 7000214, 1000502})

#: AADSTS codes by which Entra rejects the credential itself: the reload codes, plus 7000215
#: (invalid client secret) and 7000222 (expired client secret). The entry is then passed over
#: for the next `ClientCredentials` entry, as Identity.Web does.
CREDENTIAL_REJECTION_CODES = CERTIFICATE_RELOAD_CODES | {7000215, 7000222}

NOT_SUPPORTED_CODE = "mtls_pop_not_supported_for_environment"

_REGION = re.compile(r"[a-z0-9]+")


#: No TLS client certificate reached the mTLS token endpoint. ESTS's code for this is not known
#: (wire-protocol.md §10); 9900002 is the emulator's (docs/emulator.md). An answer with another
#: code is recognised by its words (`_NO_CERTIFICATE_WORDS`).
MISSING_CERTIFICATE_CODE = 9900002
MTLS_MISSING_CERTIFICATE_HINT = (
    "the mTLS token endpoint received no TLS client certificate although this client presented "
    "one: something between here and the endpoint ends TLS and opens its own connection (an "
    "HTTPS proxy that terminates TLS, a load balancer, a TLS-inspecting firewall); let this "
    "traffic through untouched (e.g. NO_PROXY for the mTLS host), and check that the request "
    "went to the mTLS host itself (Instance, AzureRegion, IDENTITY_WEB_CONNECT_TO)"
)
_NO_CERTIFICATE_WORDS = re.compile(
    r"client certificate\b.{0,80}\b"
    r"(?:is required|missing|not (?:been )?(?:provided|presented|sent))"
    r"|no (?:TLS )?client certificate",
    re.IGNORECASE,
)

#: What to check when the mTLS token endpoint refuses a request, by AADSTS code.
MTLS_HINTS: Mapping[int, str] = {
    MISSING_CERTIFICATE_CODE: MTLS_MISSING_CERTIFICATE_HINT,
    51000: (
        "the app registration is not enabled for mTLS client authentication (MtlsClientAuth); "
        "enable it for this app or use ProtocolScheme Bearer"
    ),
    392196: (
        "the resource does not accept certificate-bound tokens; ask for Bearer for this API "
        "(ProtocolScheme Bearer) or use a resource enrolled for token binding"
    ),
}
MTLS_INVALID_CLIENT_HINT = (
    "the mTLS token endpoint did not accept the client certificate: check that the certificate "
    "presented on TLS is registered for this app (or trusted by SN/I), is within its validity "
    "period, and reached the endpoint (no TLS-terminating proxy in between)"
)


def explain_mtls_error(error: ServiceError) -> ServiceError | None:
    """`error` from the mTLS token endpoint with what to check added, or None (nothing to add)."""
    hint = next((MTLS_HINTS[code] for code in error.error_codes if code in MTLS_HINTS), None)
    if hint is None and _NO_CERTIFICATE_WORDS.search(error.error_description):
        hint = MTLS_MISSING_CERTIFICATE_HINT
    if hint is None and error.error == "invalid_client":
        hint = MTLS_INVALID_CLIENT_HINT
    return error.with_hint(hint) if hint is not None else None


def is_certificate_reload_error(error: ServiceError) -> bool:
    """True for the AADSTS codes that justify one credential reload and retry."""
    return error.has_code(*CERTIFICATE_RELOAD_CODES)


def is_credential_rejection(error: ServiceError) -> bool:
    """True when Entra rejected the credential itself (`CREDENTIAL_REJECTION_CODES`)."""
    return error.has_code(*CREDENTIAL_REJECTION_CODES)


# -- authorities ------------------------------------------------------------------------------


def token_endpoint(instance: str, tenant: str) -> str:
    """`{instance}{tenant}/oauth2/v2.0/token` (the login host, Bearer path)."""
    return f"{instance.rstrip('/')}/{tenant}/oauth2/v2.0/token"


def openid_configuration_url(instance: str, tenant: str) -> str:
    return f"{instance.rstrip('/')}/{tenant}/v2.0/.well-known/openid-configuration"


def check_app_tenant(tenant: str, *, where: str) -> None:
    """App tokens need a real tenant: refuse empty, `common`, `organizations`, `consumers`."""
    if not tenant:
        raise InvalidRequestError(
            "IDW10405", f"App tokens need a tenant ID or domain name; none was found ({where})."
        )
    if tenant.strip("/").lower() in NON_TENANTS:
        raise InvalidRequestError(
            "IDW10405",
            f"'tenant' should be a tenant ID or domain name, not '{tenant}' ({where}): app "
            "tokens cannot be requested from 'common', 'organizations' or 'consumers'.",
        )


def require_https(url: str, *, what: str) -> None:
    if urlsplit(url).scheme.lower() != "https":
        raise InvalidRequestError(
            "", f"The {what} must use https, found {url!r}; credentials never go over plain HTTP."
        )


# -- region -----------------------------------------------------------------------------------


def normalize_region(value: str | None) -> str | None:
    """Lower-case, spaces removed; None unless the result matches `[a-z0-9]+`."""
    if not value:
        return None
    region = value.replace(" ", "").lower()
    return region if _REGION.fullmatch(region) else None


def resolve_region(azure_region: str | None, environ: Mapping[str, str]) -> str | None:
    """The region for the mTLS host prefix, or None for the global endpoint.

    An explicit `AzureRegion` is used as given. `TryAutoDetect` reads `REGION_NAME`, then
    `MSAL_FORCE_REGION`; without either, IMDS is asked once (`region_discovery_base`,
    `region_discovery_flow`). Invalid values are ignored.
    """
    if not azure_region:
        return None
    if azure_region.strip().lower() != REGION_AUTO_DETECT.lower():
        return normalize_region(azure_region)
    for name in ("REGION_NAME", "MSAL_FORCE_REGION"):
        region = normalize_region(environ.get(name))
        if region:
            return region
    return None


#: How long region discovery may take before the global host is used (MSAL asks IMDS with a
#: short timeout, once per process).
REGION_DISCOVERY_TIMEOUT = 2.0
REGION_DISCOVERY_PATH = "/metadata/instance/compute/location?format=text&api-version=2021-02-01"


def region_discovery_base(azure_region: str | None, environ: Mapping[str, str]) -> str | None:
    """The IMDS base URL to ask for the region: `TryAutoDetect` without `REGION_NAME` or
    `MSAL_FORCE_REGION`; None otherwise (no discovery)."""
    if not azure_region or azure_region.strip().lower() != REGION_AUTO_DETECT.lower():
        return None
    if resolve_region(azure_region, environ) is not None:
        return None
    return imds_base(environ)


def region_discovery_flow(imds: str) -> Step[str | None]:
    """One bounded IMDS request for the VM's region (no retry); None on any failure."""
    request = HttpRequest(
        "GET",
        f"{imds}{REGION_DISCOVERY_PATH}",
        headers={"Metadata": "true"},
        timeout=REGION_DISCOVERY_TIMEOUT,
        direct=True,
    )
    try:
        response = yield request
    except NetworkError:
        return None
    if response.status != 200:
        return None
    return normalize_region(response.body.decode("utf-8", "replace").strip().strip('"'))


# -- the mTLS endpoint rule -------------------------------------------------------------------


def is_entra_domain(host: str) -> bool:
    host = host.lower().rstrip(".")
    return any(host == domain or host.endswith("." + domain) for domain in ENTRA_DOMAINS)


def mtls_host(host: str, region: str | None = None) -> str | None:
    """The mTLS host for a token-service host; None when the OpenID configuration must say.

    Raises `InvalidRequestError` for hosts mTLS PoP cannot use (steps 1 and 3 of the rule).
    """
    host = host.lower().rstrip(".")
    if host in DEPRECATED_MTLS_HOSTS:
        raise InvalidRequestError(
            NOT_SUPPORTED_CODE,
            f"{host} is not supported for mTLS PoP, please use {DEPRECATED_MTLS_HOSTS[host]}",
        )
    if host.startswith("login."):
        mapped = PUBLIC_MTLS_HOST if host in PUBLIC_CLOUD_HOSTS else "mtlsauth." + host[6:]
        region = normalize_region(region)
        return f"{region}.{mapped}" if region else mapped
    if is_entra_domain(host):
        raise InvalidRequestError(
            NOT_SUPPORTED_CODE,
            f"{host} is not supported for mTLS PoP: only login.* hosts map to an mTLS token "
            "endpoint; set AzureAd.Instance to your cloud's login host "
            "(for example https://login.microsoftonline.com/).",
        )
    return None


def mtls_token_endpoint(token_endpoint_url: str, *, region: str | None = None) -> str | None:
    """Map a login-host token endpoint URL to its mTLS twin; None → use OpenID discovery."""
    parts = urlsplit(token_endpoint_url)
    host = parts.hostname or ""
    mapped = mtls_host(host, region)
    if mapped is None:
        return None
    netloc = f"{mapped}:{parts.port}" if parts.port is not None else mapped
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mtls_endpoint_discovery_flow(
    instance: str, tenant: str, *, retry: RetryPolicy | None = STS_RETRY
) -> Step[str]:
    """GET the OpenID configuration (no client certificate) → the mTLS token endpoint."""
    url = openid_configuration_url(instance, tenant)
    headers = {**LIBRARY_HEADERS, "Accept": "application/json"}
    response = yield HttpRequest("GET", url, headers=headers, retry=retry)
    return parse_mtls_endpoint(response, url=url)


def _scheme(url: str) -> str:
    """The URL's scheme, lower-cased; "" when the URL cannot be parsed (`https://[`)."""
    try:
        return urlsplit(url).scheme.lower()
    except ValueError:
        return ""


def parse_mtls_endpoint(response: HttpResponse, *, url: str) -> str:
    if not 200 <= response.status < 300:
        raise parse_error_response(response, endpoint=url)
    try:
        document = response.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenAcquisitionError(f"The OpenID configuration at {url} is not JSON.") from exc
    aliases = document.get("mtls_endpoint_aliases") if isinstance(document, dict) else None
    endpoint = aliases.get("token_endpoint") if isinstance(aliases, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        raise TokenAcquisitionError(
            f"mTLS PoP needs an mTLS token endpoint, but the OpenID configuration at {url} has "
            "no mtls_endpoint_aliases.token_endpoint. This authority does not support "
            "certificate-bound tokens; use ProtocolScheme Bearer or an Entra ID login.* host."
        )
    if _scheme(endpoint) != "https":
        raise TokenAcquisitionError(
            f"The OpenID configuration at {url} names a non-HTTPS mTLS token endpoint "
            f"({endpoint}); refusing to use it."
        )
    return endpoint
