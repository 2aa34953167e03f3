"""Managed identity sources besides IMDS, and how the source is chosen (wire-protocol §4.1, §4.4).

Detection follows MSAL.NET's order and reads only environment variables (plus whether the Azure
Arc agent is installed, which the caller finds out and passes in):

1. `IDENTITY_ENDPOINT` and `IDENTITY_HEADER` → Service Fabric if `IDENTITY_SERVER_THUMBPRINT`
   is also set, else App Service (and Functions).
2. `MSI_ENDPOINT` and `MSI_SECRET` → Azure Machine Learning.
3. `MSI_ENDPOINT` alone → Cloud Shell.
4. `IDENTITY_ENDPOINT` and `IMDS_ENDPOINT`, or the Arc agent installed → Azure Arc.
5. Otherwise IMDS.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePath
from urllib.parse import urlencode

from identity_web._errors import ManagedIdentityError
from identity_web.protocol._http import HttpRequest, HttpResponse, RetryPolicy
from identity_web.protocol.imds import (
    IMDS_HOST_VARIABLE,
    ManagedIdentityId,
    error_summary,
    imds_base,
    relayed_service_error,
)

ARC_DEFAULT_ENDPOINT = "http://127.0.0.1:40342/metadata/identity/oauth2/token"
ARC_AGENT_PATH_LINUX = "/opt/azcmagent/bin/himds"
ARC_KEY_DIRECTORY_LINUX = "/var/opt/azcmagent/tokens"
ARC_MAX_KEY_FILE_SIZE = 4096

APP_SERVICE_API_VERSION = "2019-08-01"
ARC_API_VERSION = "2020-06-01"
SERVICE_FABRIC_API_VERSION = "2019-07-01-preview"
MACHINE_LEARNING_API_VERSION = "2017-09-01"


class ManagedIdentitySource(enum.Enum):
    IMDS = "IMDS"
    APP_SERVICE = "AppService"
    SERVICE_FABRIC = "ServiceFabric"
    MACHINE_LEARNING = "MachineLearning"
    CLOUD_SHELL = "CloudShell"
    AZURE_ARC = "AzureArc"


SYSTEM_ASSIGNED_ONLY = frozenset(
    {
        ManagedIdentitySource.AZURE_ARC,
        ManagedIdentitySource.CLOUD_SHELL,
        ManagedIdentitySource.SERVICE_FABRIC,
    }
)
"""Sources that cannot select a user-assigned identity: asking for one there is an error."""


@dataclass(frozen=True, slots=True)
class DetectedSource:
    """The chosen source, its endpoint and the environment variables that decided it."""

    source: ManagedIdentitySource
    endpoint: str
    variables: tuple[str, ...] = ()
    reason: str = ""


def _present(environ: Mapping[str, str], *names: str) -> bool:
    return all(environ.get(name, "").strip() for name in names)


_ENVIRONMENT_RULES: tuple[tuple[ManagedIdentitySource, tuple[str, ...], str], ...] = (
    (
        ManagedIdentitySource.SERVICE_FABRIC,
        ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT"),
        "IDENTITY_ENDPOINT",
    ),
    (
        ManagedIdentitySource.APP_SERVICE,
        ("IDENTITY_ENDPOINT", "IDENTITY_HEADER"),
        "IDENTITY_ENDPOINT",
    ),
    (ManagedIdentitySource.MACHINE_LEARNING, ("MSI_ENDPOINT", "MSI_SECRET"), "MSI_ENDPOINT"),
    (ManagedIdentitySource.CLOUD_SHELL, ("MSI_ENDPOINT",), "MSI_ENDPOINT"),
    (ManagedIdentitySource.AZURE_ARC, ("IDENTITY_ENDPOINT", "IMDS_ENDPOINT"), "IDENTITY_ENDPOINT"),
)
"""First match wins; the order is MSAL.NET's (SF before App Service because it is a superset)."""


def detect_source(environ: Mapping[str, str], *, arc_agent_installed: bool) -> DetectedSource:
    """Pick the managed identity source from the environment (order in the module docstring)."""
    for source, names, endpoint_variable in _ENVIRONMENT_RULES:
        if _present(environ, *names):
            reason = " and ".join(names) + (" are set" if len(names) > 1 else " is set")
            return DetectedSource(source, environ[endpoint_variable].strip(), names, reason)
    if arc_agent_installed:
        return DetectedSource(
            ManagedIdentitySource.AZURE_ARC,
            ARC_DEFAULT_ENDPOINT,
            (),
            f"the Azure Arc agent is installed ({ARC_AGENT_PATH_LINUX})",
        )
    override = _present(environ, IMDS_HOST_VARIABLE)
    return DetectedSource(
        ManagedIdentitySource.IMDS,
        imds_base(environ),
        (IMDS_HOST_VARIABLE,) if override else (),
        f"no other source is configured; {IMDS_HOST_VARIABLE} is set"
        if override
        else "no other managed identity source is configured in the environment",
    )


def require_supported_identity(detected: DetectedSource, identity: ManagedIdentityId) -> None:
    """Refuse a user-assigned identity where the source would silently use the system one."""
    if identity.is_system:
        return
    if detected.source in SYSTEM_ASSIGNED_ONLY:
        raise ManagedIdentityError(
            f"{detected.source.value} managed identity ({detected.reason}) only supports the "
            f"system-assigned identity, but {identity.describe()} was requested. Remove the "
            "UserAssigned* selector from AcquireTokenOptions.ManagedIdentity, or run where "
            "user-assigned identities are available."
        )
    if detected.source is ManagedIdentitySource.MACHINE_LEARNING and identity.kind != "client_id":
        raise ManagedIdentityError(
            f"Azure Machine Learning managed identity selects a user-assigned identity by "
            f"client id only, but {identity.describe()} was requested; use "
            "UserAssignedClientId."
        )


def _with_query(endpoint: str, params: Mapping[str, str]) -> str:
    separator = "&" if "?" in endpoint else "?"
    return f"{endpoint}{separator}{urlencode(params)}"


def app_service_request(
    detected: DetectedSource,
    secret: str,
    resource: str,
    identity: ManagedIdentityId,
    retry: RetryPolicy | None,
) -> HttpRequest:
    """App Service / Functions: `X-IDENTITY-HEADER`, api-version 2019-08-01, `mi_res_id`."""
    params = {"api-version": APP_SERVICE_API_VERSION, "resource": resource}
    params |= identity.query("mi_res_id")
    return HttpRequest(
        "GET",
        _with_query(detected.endpoint, params),
        headers={"X-IDENTITY-HEADER": secret},
        retry=retry,
        direct=True,
    )


def arc_request(
    detected: DetectedSource,
    resource: str,
    retry: RetryPolicy | None,
    *,
    authorization: str | None = None,
) -> HttpRequest:
    """Azure Arc: first without, then with `Authorization: Basic <key file contents>`."""
    params = {"api-version": ARC_API_VERSION, "resource": resource}
    headers = {"Metadata": "true"}
    if authorization is not None:
        headers["Authorization"] = f"Basic {authorization}"
    return HttpRequest(
        "GET", _with_query(detected.endpoint, params), headers=headers, retry=retry, direct=True
    )


def arc_key_path(response: HttpResponse, allowed_directory: str) -> str:
    """The key file named by Arc's 401 challenge, checked to lie where the agent writes keys.

    `WWW-Authenticate: Basic realm=<path>`; the path must be a `*.key` file directly inside
    `allowed_directory` (`/var/opt/azcmagent/tokens` on Linux).
    """
    challenge = response.header("www-authenticate")
    scheme, _, realm = challenge.partition("realm=")
    if not scheme.strip().lower().startswith("basic") or not realm.strip():
        raise ManagedIdentityError(
            "Azure Arc answered 401 without a 'WWW-Authenticate: Basic realm=<key file>' "
            "challenge; the Arc agent did not behave as expected."
        )
    path = PurePath(realm.strip().strip('"'))
    if path.suffix != ".key" or ".." in path.parts or path.parent != PurePath(allowed_directory):
        raise ManagedIdentityError(
            f"Azure Arc named a key file outside {allowed_directory} (or not a .key file); "
            "refusing to read it."
        )
    return str(path)


def cloud_shell_request(
    detected: DetectedSource, resource: str, retry: RetryPolicy | None
) -> HttpRequest:
    """Cloud Shell: POST the form `resource=…` with `Metadata: true`."""
    return HttpRequest(
        "POST",
        detected.endpoint,
        headers={"Metadata": "true"},
        form={"resource": resource},
        retry=retry,
        direct=True,
    )


def service_fabric_request(
    detected: DetectedSource,
    secret: str,
    thumbprint: str,
    resource: str,
    retry: RetryPolicy | None,
) -> HttpRequest:
    """Service Fabric: https, `secret` header, the server certificate pinned by SHA-1."""
    if not detected.endpoint.lower().startswith("https://"):
        raise ManagedIdentityError(
            f"Service Fabric IDENTITY_ENDPOINT must be an https URL, got {detected.endpoint!r}."
        )
    params = {"api-version": SERVICE_FABRIC_API_VERSION, "resource": resource}
    return HttpRequest(
        "GET",
        _with_query(detected.endpoint, params),
        headers={"secret": secret},
        retry=retry,
        pinned_server_sha1=thumbprint.replace(":", "").strip().lower(),
        direct=True,
    )


def machine_learning_request(
    detected: DetectedSource,
    secret: str,
    resource: str,
    client_id: str,
    retry: RetryPolicy | None,
) -> HttpRequest:
    """Azure ML: api-version 2017-09-01 and `clientid` (no underscore), `secret` header."""
    params = {"api-version": MACHINE_LEARNING_API_VERSION, "resource": resource}
    if client_id:
        params["clientid"] = client_id
    return HttpRequest(
        "GET",
        _with_query(detected.endpoint, params),
        headers={"secret": secret, "Metadata": "true"},
        retry=retry,
        direct=True,
    )


def source_error(
    detected: DetectedSource, response: HttpResponse, identity: ManagedIdentityId
) -> Exception:
    """The error for a non-200 answer of a non-IMDS source."""
    relayed = relayed_service_error(response, detected.endpoint)
    if relayed is not None:
        return relayed
    return ManagedIdentityError(
        f"{detected.source.value} managed identity endpoint ({detected.reason}) answered HTTP "
        f"{response.status} for {identity.describe()}: {error_summary(response)}"
    )
