"""The Entra hosts: the login host (discovery, keys, token) and the mtlsauth host (token)."""

from __future__ import annotations

import re
from typing import Any

from identity_web.emulator import _aadsts as codes
from identity_web.emulator import _hosts as hosts
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._token_service import MULTI_TENANT_ALIASES, TokenService
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse, Service

_TOKEN = re.compile(r"^/(?P<tenant>[^/]+)/oauth2/v2\.0/token/?$")
_OPENID = re.compile(r"^/(?P<tenant>[^/]+)(?:/v2\.0)?/\.well-known/openid-configuration/?$")
_KEYS = re.compile(r"^/(?P<tenant>[^/]+)/discovery(?:/v2\.0)?/keys/?$")


def not_found(request: EmulatorRequest) -> EmulatorResponse:
    return EmulatorResponse.json(
        404, {"error": "not_found", "error_description": f"No route for {request.path}"}
    )


class LoginService:
    """`https://127.0.0.1:P/{tenant}/…`; `/_emulator/` goes to the admin service.

    The login host sees a client certificate only if a client offers one; it logs its
    thumbprint and never authenticates with it.
    """

    def __init__(self, state: EmulatorState, admin: Service) -> None:
        self._state = state
        self._admin = admin
        self._tokens = TokenService(state, mtls=False)

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        path = request.path
        if path.startswith("/_emulator/") or path == "/_emulator":
            return self._admin.handle(request)
        if match := _TOKEN.match(path):
            tenant = match["tenant"]
            return self._state.serve(
                "entra.token", request, lambda r: self._tokens.handle(r, tenant)
            )
        if match := _OPENID.match(path):
            tenant = match["tenant"]
            return self._state.serve(
                "entra.openid_configuration", request, lambda r: self._openid(r, tenant)
            )
        if _KEYS.match(path):
            return self._state.serve(
                "entra.keys",
                request,
                lambda r: EmulatorResponse.json(200, self._state.signing.jwks()),
            )
        return self._state.serve("entra.other", request, not_found)

    def _openid(self, request: EmulatorRequest, tenant: str) -> EmulatorResponse:
        state = self._state
        if tenant.lower() not in MULTI_TENANT_ALIASES and not state.is_tenant(tenant):
            failure = codes.TENANT_NOT_FOUND.fail(tenant=tenant)
            return codes.error_response(
                failure, request, now=state.clock.now(), error_uri_base=state.urls.login_base
            )
        shown = tenant if tenant.lower() in MULTI_TENANT_ALIASES else state.tenant_id
        return EmulatorResponse.json(
            200, openid_configuration(state, shown, hosts.cloud_of_login(request.host))
        )


def openid_configuration(
    state: EmulatorState, tenant: str, cloud: hosts.Cloud | None = None
) -> dict[str, Any]:
    """The tenant's OpenID configuration, with the RFC 8705 §5 `mtls_endpoint_aliases`.

    Addressed by a production login name (`cloud`), it is what Entra publishes for that cloud:
    URLs on that host and the cloud's mTLS host as alias. Addressed as `127.0.0.1`, the URLs
    are the loopback listeners', and the alias (the loopback mTLS listener) is there only while
    `EmulatorConfig.loopback_mtls_alias` is on: the discovery path for non-Entra authorities.
    `issuer` is always the one the tokens carry (loopback), so a validator that discovers it
    accepts them.
    """
    if cloud is None:
        login_base, instance_name = state.urls.login_base, "identity-web-emulator"
        mtls_base = state.urls.mtls_base if state.config.loopback_mtls_alias else None
    else:
        login_base, instance_name = f"https://{cloud.login}/", cloud.instance_name
        mtls_base = f"https://{cloud.mtls}/"
    login = f"{login_base}{tenant}"
    issuer_tenant = "{tenantid}" if tenant.lower() in MULTI_TENANT_ALIASES else tenant
    document: dict[str, Any] = {
        "issuer": f"{state.urls.login_base}{issuer_tenant}/v2.0",
        "token_endpoint": f"{login}/oauth2/v2.0/token",
        "jwks_uri": f"{login}/discovery/v2.0/keys",
        "authorization_endpoint": f"{login}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{login}/oauth2/v2.0/devicecode",
        "end_session_endpoint": f"{login}/oauth2/v2.0/logout",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
            "self_signed_tls_client_auth",
        ],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "cnf"],
        "request_uri_parameter_supported": False,
        "tenant_region_scope": None,
        "cloud_instance_name": instance_name,
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }
    if mtls_base is not None:
        document["mtls_endpoint_aliases"] = {
            "token_endpoint": f"{mtls_base}{tenant}/oauth2/v2.0/token"
        }
    return document


class MtlsService:
    """`https://127.0.0.1:Q/{tenant}/oauth2/v2.0/token`: the mtlsauth host."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._tokens = TokenService(state, mtls=True)

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        if match := _TOKEN.match(request.path):
            tenant = match["tenant"]
            return self._state.serve(
                "entra.mtls_token", request, lambda r: self._tokens.handle(r, tenant)
            )
        return self._state.serve("entra.mtls_other", request, not_found)
