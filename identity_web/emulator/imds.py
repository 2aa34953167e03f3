"""The emulated Azure Instance Metadata Service (plain HTTP on loopback), wire-protocol §9.

- `GET /metadata/identity/oauth2/token` (v1): Bearer tokens for the system-assigned identity or
  a user-assigned one by `client_id`, `object_id`, `msi_res_id` (or `mi_res_id`).
- `GET /metadata/identity/getplatformmetadata` and `POST /metadata/identity/issuecredential`
  (v2): see `identity_web.emulator.imds_v2`. With `v2_enabled = False` the host is "v1 only"
  and `getplatformmetadata` answers 404.
- `GET /metadata/instance/compute` (JSON) and `/metadata/instance/compute/location?format=text`.

Every `/metadata/*` answer carries `Server: IMDS/150.870.65.1854`; a request without
`Metadata: true` gets the 400 real IMDS gives (which is what IMDS probes rely on). Each request
goes through `state.serve(endpoint, ...)`, so scripted faults (`imds.token`,
`imds.getplatformmetadata`, `imds.issuecredential`, `imds.compute`) apply and every request is
logged.
"""

from __future__ import annotations

import uuid

from identity_web.emulator import _hosts as hosts
from identity_web.emulator._directory import ManagedIdentity
from identity_web.emulator._imds_common import (
    IDENTITY_API_VERSIONS,
    SERVER_HEADER,
    Handler,
    api_version_error,
    ests_error,
    imds_json,
    invalid_request,
    select_identity,
    version_error,
)
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse
from identity_web.emulator.imds_v2 import ImdsV2Endpoints

TOKEN_PATH = "/metadata/identity/oauth2/token"
PLATFORM_METADATA_PATH = "/metadata/identity/getplatformmetadata"
ISSUE_CREDENTIAL_PATH = "/metadata/identity/issuecredential"
COMPUTE_PATH = "/metadata/instance/compute"
LOCATION_PATH = "/metadata/instance/compute/location"

DEFAULT_REGION = "westus3"
MI_APPIDACR = "2"
"""Managed identity tokens authenticate the client like a certificate would."""


def token_body(state: EmulatorState, identity: ManagedIdentity, resource: str) -> dict[str, str]:
    """The v1 success body: every value a string, as real IMDS sends it."""
    lifetime = state.config.managed_identity_token_lifetime
    now = int(state.clock.now())
    token = state.mint_access_token(
        client_id=identity.client_id,
        object_id=identity.object_id,
        audience=resource,
        appidacr=MI_APPIDACR,
        lifetime=lifetime,
    )
    return {
        "access_token": token,
        "client_id": identity.client_id,
        "expires_in": str(lifetime),
        "expires_on": str(now + lifetime),
        "ext_expires_in": str(lifetime),
        "not_before": str(now),
        "resource": resource,
        "token_type": "Bearer",
    }


def issue_managed_identity_token(
    state: EmulatorState, identity: ManagedIdentity, resource: str
) -> EmulatorResponse:
    """A Bearer token for `resource`, or the relayed AADSTS500011 when it is unknown."""
    if not resource:
        return invalid_request("Required query variable 'resource' is missing")
    if state.resources.find(resource) is None:
        return ests_error(
            state,
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{state.tenant_id}. This can happen if the application has not been installed "
            "by the administrator of the tenant or consented to by any user in the tenant.",
        )
    return imds_json(200, token_body(state, identity, resource))


class ImdsService:
    """The IMDS host. `v2_enabled` and `region` may be changed at run time."""

    def __init__(self, state: EmulatorState, *, region: str = DEFAULT_REGION) -> None:
        self.state = state
        self.region = region
        self.v2_enabled = state.config.imds_v2_enabled
        self.v2 = ImdsV2Endpoints(state)
        self.vm_id = str(uuid.uuid4())
        self._routes: dict[tuple[str, str], tuple[str, Handler]] = {
            ("GET", TOKEN_PATH): ("imds.token", self._token),
            ("GET", PLATFORM_METADATA_PATH): ("imds.getplatformmetadata", self._metadata),
            ("POST", ISSUE_CREDENTIAL_PATH): ("imds.issuecredential", self._issue),
            ("GET", COMPUTE_PATH): ("imds.compute", self._compute),
            ("GET", LOCATION_PATH): ("imds.compute", self._location),
        }

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        route = self._routes.get((request.method.upper(), request.path.rstrip("/")))
        if route is None:
            return self.state.serve("imds", request, self._not_found)
        endpoint, handler = route
        return self.state.serve(endpoint, request, self._guarded(handler))

    def _guarded(self, handler: Handler) -> Handler:
        def guarded(request: EmulatorRequest) -> EmulatorResponse:
            if request.path.rstrip("/") == PLATFORM_METADATA_PATH and not self.v2_enabled:
                return self._not_found(request)
            if request.header("metadata").lower() != "true":
                return invalid_request("Required metadata header not specified")
            return handler(request)

        return guarded

    @staticmethod
    def _not_found(request: EmulatorRequest) -> EmulatorResponse:
        return EmulatorResponse.text(404, "Not Found", SERVER_HEADER)

    def _token(self, request: EmulatorRequest) -> EmulatorResponse:
        refused = version_error(request.query, "api-version", IDENTITY_API_VERSIONS)
        if refused is not None:
            return refused
        identity = select_identity(self.state, request.query)
        if isinstance(identity, EmulatorResponse):
            return identity
        return issue_managed_identity_token(self.state, identity, request.query.get("resource", ""))

    def _metadata(self, request: EmulatorRequest) -> EmulatorResponse:
        return self.v2.platform_metadata(request, self.cu_id)

    def _issue(self, request: EmulatorRequest) -> EmulatorResponse:
        return self.v2.issue_credential(request, self.cu_id, self.mtls_endpoint(request))

    def mtls_endpoint(self, request: EmulatorRequest) -> str:
        """`mtls_authentication_endpoint`: the regional public-cloud mTLS host when IMDS was
        addressed as 169.254.169.254, else the loopback mTLS listener."""
        if hosts.host_name(request.host) == hosts.IMDS_ADDRESS:
            return f"https://{self.region}.{hosts.PUBLIC_CLOUD.mtls}"
        return self.state.mtls_authentication_endpoint

    @property
    def cu_id(self) -> dict[str, str]:
        return {"vmId": self.vm_id}

    def _compute(self, request: EmulatorRequest) -> EmulatorResponse:
        if refused := api_version_error(request.query):
            return refused
        return imds_json(
            200,
            {
                "location": self.region,
                "name": "identity-web-vm",
                "osType": "Linux",
                "vmId": self.vm_id,
                "securityProfile": {"securityType": "TrustedLaunch"},
            },
        )

    def _location(self, request: EmulatorRequest) -> EmulatorResponse:
        if refused := api_version_error(request.query):
            return refused
        if request.query.get("format", "").lower() != "text":
            return imds_json(200, self.region)
        return EmulatorResponse.text(200, self.region, SERVER_HEADER)
