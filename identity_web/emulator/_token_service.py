"""`/{tenant}/oauth2/v2.0/token` (client credentials) of the login and mtlsauth hosts."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from identity_web.emulator import _aadsts as codes
from identity_web.emulator import _hosts as hosts
from identity_web.emulator._client_auth import (
    ClientIdentity,
    TokenRequestContext,
    authenticate,
)
from identity_web.emulator._directory import Resource
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse

logger = logging.getLogger(__name__)

MULTI_TENANT_ALIASES = frozenset({"common", "organizations", "consumers"})
DEFAULT_SUFFIX = "/.default"
# OpenID scopes MSAL may add; ESTS ignores them for client credentials.
_IGNORED_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass(frozen=True, slots=True)
class _Grant:
    identity: ClientIdentity
    resource: Resource
    audience: str
    bound_to: str | None


class TokenService:
    """Issues app tokens; `mtls=True` is the mtlsauth host (TLS client certificate aware)."""

    def __init__(self, state: EmulatorState, *, mtls: bool) -> None:
        self._state = state
        self._mtls = mtls

    def handle(self, request: EmulatorRequest, tenant: str) -> EmulatorResponse:
        try:
            grant = self._grant(request, tenant)
        except codes.TokenRequestError as failure:
            logger.info("token request refused: AADSTS%s", failure.spec.code)
            return codes.error_response(
                failure,
                request,
                now=self._state.clock.now(),
                error_uri_base=self._state.urls.login_base,
            )
        return self._success(request, grant)

    def _grant(self, request: EmulatorRequest, tenant: str) -> _Grant:
        if request.method != "POST":
            raise codes.POST_REQUIRED.fail()
        check_tenant(self._state, tenant)
        form = request.form()
        _check_grant_type(form.get("grant_type", ""))
        pop = form.get("token_type", "").lower() == "mtls_pop"
        if pop and not self._mtls:
            raise codes.MTLS_POP_ON_LOGIN_HOST.fail(mtls_endpoint=self._mtls_alias(request, tenant))
        audience = resource_of_scope(form.get("scope"))
        context = TokenRequestContext(
            tenant=tenant,
            form=form,
            client_certificate=_certificate(request) if self._mtls else None,
            mtls_host=self._mtls,
            pop=pop,
            accepted_audiences=self._assertion_audiences(tenant, request.host),
        )
        identity = authenticate(self._state, context)
        resource = self._resource(audience, pop)
        return _Grant(identity, resource, audience, context.tls_thumbprint if pop else None)

    def _mtls_alias(self, request: EmulatorRequest, tenant: str) -> str:
        """The mTLS token endpoint the OpenID configuration of the addressed host names."""
        cloud = hosts.cloud_of_login(request.host)
        if cloud is None:
            return self._state.mtls_token_endpoint
        return f"https://{cloud.mtls}/{tenant}/oauth2/v2.0/token"

    def _resource(self, audience: str, pop: bool) -> Resource:
        resource = self._state.resources.find(audience)
        if resource is None:
            raise codes.UNKNOWN_RESOURCE.fail(resource=audience, tenant=self._state.tenant_id)
        if pop and not resource.bound_tokens_enabled:
            raise codes.BOUND_TOKENS_NOT_SUPPORTED.fail(resource=audience)
        return resource

    def _assertion_audiences(self, tenant: str, host: str) -> list[str]:
        """Accepted `aud` of client assertions: the token endpoints (login and mtlsauth, by
        loopback address, by production name, or as addressed; tenant as GUID, domain or as in
        the request URL) and the issuer."""
        state = self._state
        tenants = dict.fromkeys([state.tenant_id, state.tenant_domain, tenant])
        names = [f"https://{h}/" for cloud in hosts.CLOUDS for h in (cloud.login, cloud.mtls)]
        addressed = f"https://{hosts.host_name(host)}/"
        bases = dict.fromkeys([state.urls.login_base, state.urls.mtls_base, *names, addressed])
        audiences = [f"{base}{t}/oauth2/v2.0/token" for base in bases for t in tenants]
        return [state.token_endpoint, *audiences, state.issuer]

    def _success(self, request: EmulatorRequest, grant: _Grant) -> EmulatorResponse:
        config = self._state.config
        lifetime = (
            config.managed_identity_token_lifetime
            if grant.identity.managed_identity
            else config.token_lifetime
        )
        token = self._state.mint_access_token(
            client_id=grant.identity.client_id,
            object_id=grant.identity.object_id,
            audience=grant.audience,
            appidacr=grant.identity.appidacr,
            cnf_x5t_s256=grant.bound_to,
            lifetime=lifetime,
        )
        body: dict[str, Any] = {
            "token_type": "mtls_pop" if grant.bound_to else "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        if config.refresh_in is not None:
            body["refresh_in"] = config.refresh_in
        logger.info(
            "issued %s token for %s (%s) to %s",
            body["token_type"],
            grant.audience,
            grant.identity.method,
            grant.identity.client_id,
        )
        headers = codes.response_headers(request, str(uuid.uuid4()))
        return EmulatorResponse.json(200, body, headers)


def check_tenant(state: EmulatorState, tenant: str) -> None:
    if tenant.lower() in MULTI_TENANT_ALIASES:
        raise codes.NO_TENANT.fail(tenant=tenant)
    if not state.is_tenant(tenant):
        raise codes.TENANT_NOT_FOUND.fail(tenant=tenant)


def _check_grant_type(grant_type: str) -> None:
    if not grant_type:
        raise codes.MISSING_PARAMETER.fail(name="grant_type")
    if grant_type != "client_credentials":
        raise codes.UNSUPPORTED_GRANT.fail(grant_type=grant_type)


def resource_of_scope(scope: str | None) -> str:
    """The resource of a client-credentials scope: exactly one `<resource>/.default`."""
    if scope is None or not scope.strip():
        raise codes.MISSING_PARAMETER.fail(name="scope")
    scopes = [s for s in scope.split() if s.lower() not in _IGNORED_SCOPES]
    if len(scopes) != 1:
        raise codes.SCOPE_INVALID.fail(scope=scope)
    only = scopes[0]
    if not only.endswith(DEFAULT_SUFFIX) or len(only) == len(DEFAULT_SUFFIX):
        raise codes.SCOPE_NOT_DEFAULT.fail(scope=only)
    return only[: -len(DEFAULT_SUFFIX)]


def _certificate(request: EmulatorRequest) -> x509.Certificate | None:
    if request.client_cert_der is None:
        return None
    return x509.load_der_x509_certificate(request.client_cert_der)


__all__ = ["TokenService", "check_tenant", "resource_of_scope"]
