"""The network part of an acquisition, as one sans-IO flow per plan.

`FlowBuilder.acquisition_flow(plan, now)` picks the path (managed identity; secret,
certificate or assertion; Bearer or mTLS PoP), and on the certificate AADSTS codes resets the
credentials and tries once more with the reloaded one; a bound FIC leg 2 refused because of its
certificate gets a new IMDS certificate and one more try instead. Sync and async drivers run
the same flow.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace

from identity_web._errors import (
    InvalidRequestError,
    NetworkError,
    ServiceError,
    TokenAcquisitionError,
    TokenBindingMismatchError,
    TokenTypeMismatchError,
)
from identity_web.acquisition._fic import (
    RenewableBinding,
    explain_federation_failure,
    renewable_binding,
)
from identity_web.acquisition._plan import AcquisitionPlan, Planner
from identity_web.credentials import AssertionCredential, CertificateCredential, SecretCredential
from identity_web.protocol import entra, oauth2, rfc7523, rfc8705
from identity_web.protocol._http import RetryPolicy
from identity_web.protocol._tokens import TokenResponse, TokenType
from identity_web.protocol.oauth2 import ClientCredentialsRequest
from identity_web.protocol.steps import Step

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A token and the plan that obtained it (after a reload, not the plan we started with)."""

    token: TokenResponse
    plan: AcquisitionPlan


class FlowBuilder:
    """Builds acquisition flows for one application; remembers discovered mTLS endpoints."""

    def __init__(self, planner: Planner, *, retry: RetryPolicy) -> None:
        self._planner = planner
        self._retry = retry
        self._discovered: dict[tuple[str, str], str] = {}

    def acquisition_flow(self, plan: AcquisitionPlan, now: float) -> Step[Outcome]:
        try:
            token = yield from self.token_flow(plan, now)
            return Outcome(token, plan)
        except ServiceError as error:
            if plan.managed_identity is not None or not entra.is_credential_rejection(error):
                raise
            rejected = error
        credentials = self._planner.credentials
        assert credentials is not None  # a client plan always has a credential source
        codes = _codes(rejected)
        moved = credentials.reject_selected(codes, bound=plan.bound)
        if not moved:
            if not entra.is_certificate_reload_error(rejected) or _binding_renewed(plan):
                raise rejected
            logger.warning(
                "token endpoint %s rejected credential %s with %s; reloading the credential "
                "and retrying once",
                rejected.endpoint,
                _credential_id(plan),
                codes,
            )
            credentials.reset()
        credential = yield from credentials.selected(plan.bound)
        retry_plan = self._planner.rebind(plan, credential)
        try:
            token = yield from self.token_flow(retry_plan, now)
        except ServiceError as again:
            if moved and entra.is_credential_rejection(again):
                # every entry tried was rejected: the error lists each attempt
                credentials.record_rejection(_codes(again), bound=plan.bound)
                yield from credentials.selected(plan.bound)
            raise
        return Outcome(token, retry_plan)

    def token_flow(self, plan: AcquisitionPlan, now: float) -> Step[TokenResponse]:
        if plan.managed_identity is not None:
            token = yield from self._managed_identity_flow(plan, now)
        else:
            token = yield from self._client_token(plan, now)
        check_binding(plan, token)
        return token

    def _client_token(self, plan: AcquisitionPlan, now: float) -> Step[TokenResponse]:
        """The token request of the app; a bound FIC leg 2 refused because of its certificate
        gets a new certificate and a new leg 1 once, then leg 2 once more (`_fic`)."""
        request = yield from self._client_request(plan, now)
        try:
            return (yield from self._send(plan, request, now))
        except (ServiceError, NetworkError) as error:
            renewable = renewable_binding(plan.credential, request, error)
            if renewable is None:
                raise
            logger.warning(
                "token endpoint %s refused the binding certificate %s of %s (%s); issuing a "
                "new IMDS certificate and retrying once",
                request.token_endpoint,
                request.tls_identity.x5t_s256 if request.tls_identity else "",
                _credential_id(plan),
                type(error).__name__,
            )
            renewable.renew_binding()
        request = yield from self._client_request(plan, now)
        return (yield from self._send(plan, request, now))

    def _send(
        self, plan: AcquisitionPlan, request: ClientCredentialsRequest, now: float
    ) -> Step[TokenResponse]:
        try:
            return (yield from oauth2.client_credentials_flow(request, now=now, retry=self._retry))
        except ServiceError as error:
            explained = _explained(plan, request, error)
            if explained is None:
                raise
            raise explained from error

    def _managed_identity_flow(self, plan: AcquisitionPlan, now: float) -> Step[TokenResponse]:
        client, identity = self._planner.managed_identity, plan.managed_identity
        assert client is not None  # checked when the plan was made
        assert identity is not None
        claims = oauth2.merge_claims(plan.claims, self._planner.client_capabilities)
        return (
            yield from client.token_flow(
                identity, plan.scope, bound=plan.bound, now=now, claims=claims
            )
        )

    def _client_request(self, plan: AcquisitionPlan, now: float) -> Step[ClientCredentialsRequest]:
        credential = plan.credential
        if isinstance(credential, AssertionCredential):
            return (yield from self._assertion_request(plan, credential, now))
        if isinstance(credential, CertificateCredential) and plan.bound:
            endpoint = yield from self._mtls_endpoint(plan.tenant)
            return rfc8705.mtls_pop_request(
                self._base_request(plan, endpoint), credential.certificate
            )
        if plan.credential_bound:  # UseBoundCredential: Bearer from the mTLS host
            endpoint = yield from self._mtls_endpoint(plan.tenant)
        else:
            endpoint = self._planner.login_endpoint(plan.tenant)
        base = self._base_request(plan, endpoint)
        if isinstance(credential, SecretCredential):
            return replace(base, client_secret=credential.secret)
        assert isinstance(credential, CertificateCredential)
        assertion = rfc7523.client_assertion(
            credential.certificate,
            client_id=self._planner.client_id,
            audience=endpoint,
            now=now,
            send_x5c=self._planner.send_x5c,
        )
        request = replace(
            base, client_assertion=assertion, client_assertion_type=rfc7523.JWT_BEARER
        )
        if plan.credential_bound:  # the signed assertion as MSAL.NET sends it, no token_type
            return rfc8705.over_mtls(request, credential.certificate)
        return request

    def _assertion_request(
        self, plan: AcquisitionPlan, credential: AssertionCredential, now: float
    ) -> Step[ClientCredentialsRequest]:
        """FIC: leg 1 (the provider's flow) gives the assertion; leg 2 is built here."""
        bound = plan.bound or plan.credential_bound
        signed = yield from credential.provider.assertion_flow(bound=bound, now=now)
        if not bound:
            endpoint = self._planner.login_endpoint(plan.tenant)
            return replace(
                self._base_request(plan, endpoint),
                client_assertion=signed.assertion,
                client_assertion_type=rfc7523.JWT_BEARER,
            )
        if signed.binding_certificate is None or not signed.assertion:
            raise InvalidRequestError(
                "IDW10115",
                f"The assertion provider of {credential.description_id} returned no binding "
                "certificate for a token-binding request.",
            )
        endpoint = yield from self._mtls_endpoint(plan.tenant)
        request = rfc8705.jwt_pop_request(
            self._base_request(plan, endpoint), signed.assertion, signed.binding_certificate
        )
        return request if plan.bound else replace(request, token_type=None)  # final: Bearer

    def _base_request(self, plan: AcquisitionPlan, endpoint: str) -> ClientCredentialsRequest:
        """A request without client authentication: the caller adds the secret or the JWT, or
        makes it a bound request (`rfc8705`)."""
        return ClientCredentialsRequest(
            token_endpoint=endpoint,
            client_id=self._planner.client_id,
            scope=plan.scope,
            claims=plan.claims,
            client_capabilities=self._planner.client_capabilities,
            extra_query_parameters=plan.extra_query,
            extra_headers=plan.extra_headers,
            correlation_id=_correlation_id(plan),
        )

    def _mtls_endpoint(self, tenant: str) -> Step[str]:
        """Static mapping for login.* hosts, else the OpenID configuration (once per tenant).
        With `AzureRegion: TryAutoDetect` and no region variable, IMDS is asked first (once)."""
        discovery = self._planner.region_discovery
        if discovery is not None:
            region = yield from entra.region_discovery_flow(discovery)
            self._planner.discovered_region(region)
        static = self._planner.static_mtls_endpoint(tenant)
        if static is not None:
            return static
        instance = self._planner.instance
        known = self._discovered.get((instance, tenant))
        if known is not None:
            return known
        endpoint = yield from entra.mtls_endpoint_discovery_flow(
            instance, tenant, retry=self._retry
        )
        logger.info("mTLS token endpoint of %s%s discovered: %s", instance, tenant, endpoint)
        self._discovered[(instance, tenant)] = endpoint
        return endpoint


def check_binding(plan: AcquisitionPlan, token: TokenResponse) -> None:
    """Fail closed: the token's type and certificate must be what the plan asked for."""
    expected = TokenType.of(plan.bound)
    if TokenType.from_wire(token.token_type) is not expected or (
        plan.bound and token.binding_certificate is None
    ):
        raise TokenTypeMismatchError(expected, token.token_type)
    if plan.binding is not None and token.binding_certificate != plan.binding:
        raise TokenAcquisitionError(
            "The bound token did not come back for the certificate the request was sent with "
            f"({plan.binding.x5t_s256}); it was discarded."
        )
    presented = token.binding_certificate
    cnf = rfc8705.cnf_thumbprint(token.access_token) if plan.bound else None
    if presented is not None and cnf is not None and cnf != presented.x5t_s256:
        raise TokenBindingMismatchError(
            presented=presented.x5t_s256,
            cnf=cnf or "(no cnf claim)",
            endpoint=token.token_endpoint or "the token endpoint",
        )


def _explained(
    plan: AcquisitionPlan, request: ClientCredentialsRequest, error: ServiceError
) -> ServiceError | None:
    """FIC leg 2 refused for a trust mismatch: the error names the assertion's iss/sub/aud. A
    request over mTLS refused for the certificate, the app or the resource: what to check."""
    if isinstance(plan.credential, AssertionCredential):
        federation = explain_federation_failure(error, request)
        if federation is not None:
            return federation
    if request.tls_identity is not None:
        return entra.explain_mtls_error(error)
    return None


def _binding_renewed(plan: AcquisitionPlan) -> bool:
    """A bound FIC plan renews its certificate in `_client_token`: no credential reload on top
    (a reload would keep the certificate and send leg 2 a third time)."""
    credential = plan.credential
    return (
        (plan.bound or plan.credential_bound)
        and isinstance(credential, AssertionCredential)
        and isinstance(credential.provider, RenewableBinding)
    )


def _correlation_id(plan: AcquisitionPlan) -> str:
    return plan.correlation_id or str(uuid.uuid4())


def _codes(error: ServiceError) -> str:
    return ",".join(f"AADSTS{code}" for code in error.error_codes)


def _credential_id(plan: AcquisitionPlan) -> str:
    return plan.credential.description_id if plan.credential is not None else "managed identity"
