"""Client authentication at the token endpoint: secret, assertion, or TLS client certificate.

Which credentials a request may use depends on the host and the requested token type:

| host | token_type | accepted credentials |
|---|---|---|
| login | (Bearer) | client_secret, jwt-bearer assertion (app certificate or federated token) |
| mtlsauth | (Bearer) | the TLS client certificate alone, or with a secret, a jwt-pop, or a |
| | | jwt-bearer assertion signed by that very certificate (Bearer over mTLS) |
| mtlsauth | mtls_pop | the TLS client certificate alone, or a jwt-pop assertion bound to it |

The mtlsauth host answers every request without a TLS client certificate with AADSTS9900002.
The login host never authenticates by the TLS certificate it may see (it only logs it). An app
must be enabled for mTLS client authentication (`AppRegistration.mtls_client_auth_enabled`) to
use the mtlsauth host at all (AADSTS51000); managed identities need no enrolment.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.x509.oid import NameOID

from identity_web.emulator import _aadsts as codes
from identity_web.emulator import _assertions as assertions
from identity_web.emulator import _jwt
from identity_web.emulator._directory import AppRegistration, ManagedIdentity
from identity_web.emulator._pki import thumbprint_s256
from identity_web.emulator._state import EmulatorState

APPIDACR_SECRET = "1"
APPIDACR_CERTIFICATE = "2"


@dataclass(frozen=True, slots=True)
class TokenRequestContext:
    """The parts of a token request client authentication looks at."""

    tenant: str
    form: Mapping[str, str] = field(repr=False)  # client_secret, client_assertion
    client_certificate: x509.Certificate | None
    mtls_host: bool
    pop: bool
    accepted_audiences: Sequence[str]

    @property
    def tls_thumbprint(self) -> str | None:
        return thumbprint_s256(self.client_certificate) if self.client_certificate else None


@dataclass(frozen=True, slots=True)
class ClientIdentity:
    """Who the token is for, and how it authenticated (`appidacr`)."""

    client_id: str
    object_id: str
    appidacr: str
    managed_identity: bool
    method: str  # client_secret | client_assertion | federated_credential | tls_certificate


def authenticate(state: EmulatorState, context: TokenRequestContext) -> ClientIdentity:
    """The authenticated client, or raise `TokenRequestError` with the ESTS error."""
    client_id = context.form.get("client_id", "")
    if not client_id:
        raise codes.MISSING_PARAMETER.fail(name="client_id")
    app = state.find_app(client_id)
    identity = None if app else state.find_managed_identity(client_id=client_id)
    if app is None and identity is None:
        raise codes.UNKNOWN_CLIENT.fail(client_id=client_id, tenant=context.tenant)
    if context.mtls_host and context.client_certificate is None:
        purpose = "token_type=mtls_pop" if context.pop else "a token request (Bearer over mTLS)"
        raise codes.CLIENT_CERTIFICATE_REQUIRED.fail(purpose=purpose)
    if context.mtls_host and app is not None and not app.mtls_client_auth_enabled:
        raise codes.MTLS_CLIENT_AUTH_DISABLED.fail(client_id=app.client_id)
    _check_pop_credentials(context)
    if context.form.get("client_assertion"):
        return _by_assertion(state, app, client_id, context)
    if "client_secret" in context.form:
        return _by_secret(app, client_id, context.form["client_secret"])
    if context.mtls_host:
        return _by_tls_certificate(state, app, identity, client_id, context)
    raise codes.MISSING_CLIENT_AUTH.fail()


def _check_pop_credentials(context: TokenRequestContext) -> None:
    """mtls_pop: the TLS certificate (checked present) is the credential, or a jwt-pop is."""
    if not context.pop:
        return
    if "client_secret" in context.form:
        raise codes.CREDENTIAL_NOT_ALLOWED_FOR_POP.fail(parameter="client_secret")
    assertion_type = context.form.get("client_assertion_type", "")
    if context.form.get("client_assertion") and assertion_type != assertions.JWT_POP:
        raise codes.CREDENTIAL_NOT_ALLOWED_FOR_POP.fail(parameter="client_assertion")


def _by_secret(app: AppRegistration | None, client_id: str, secret: str) -> ClientIdentity:
    expected = app.client_secret if app else None
    if not expected or not hmac.compare_digest(expected.encode(), secret.encode()):
        raise codes.INVALID_SECRET.fail(client_id=client_id)
    assert app is not None
    return ClientIdentity(app.client_id, app.object_id, APPIDACR_SECRET, False, "client_secret")


def _by_assertion(
    state: EmulatorState,
    app: AppRegistration | None,
    client_id: str,
    context: TokenRequestContext,
) -> ClientIdentity:
    assertion_type = context.form.get("client_assertion_type", "")
    if assertion_type not in (assertions.JWT_BEARER, assertions.JWT_POP):
        raise codes.MISSING_CLIENT_AUTH.fail()
    if app is None:  # a managed identity has no registered keys to sign assertions with
        raise codes.UNKNOWN_KEY.fail(thumbprint="none", client_id=client_id)
    check = assertions.AssertionCheck(
        client_id=app.client_id,
        accepted_audiences=context.accepted_audiences,
        tls_thumbprint=context.tls_thumbprint,
        now=state.clock.now(),
        skew=state.config.assertion_clock_skew,
    )
    assertion = context.form["client_assertion"]
    decoded = assertions.decode(assertion)
    if assertion_type == assertions.JWT_POP:
        return _by_jwt_pop(state, app, decoded, check, context)
    if assertions.is_issued_by_us(state, decoded):
        assertions.verify_federated_assertion(state, app, assertion, check)
        return _app_identity(app, "federated_credential")
    assertions.verify_app_assertion(state, app, decoded, check)
    return _app_identity(app, "client_assertion")


def _by_jwt_pop(
    state: EmulatorState,
    app: AppRegistration,
    decoded: _jwt.DecodedJwt,
    check: assertions.AssertionCheck,
    context: TokenRequestContext,
) -> ClientIdentity:
    """`jwt-pop`: a federated token bound to the very TLS certificate of this request."""
    if not context.mtls_host or context.client_certificate is None:
        raise codes.CLIENT_CERTIFICATE_REQUIRED.fail(purpose="a jwt-pop client assertion")
    assertions.require_bound(decoded)
    if not assertions.is_issued_by_us(state, decoded):
        raise codes.FIC_ISSUER_MISMATCH.fail(issuer=str(decoded.claims.get("iss")))
    assertions.verify_federated_assertion(state, app, context.form["client_assertion"], check)
    return _app_identity(app, "federated_credential")


def _app_identity(app: AppRegistration, method: str) -> ClientIdentity:
    return ClientIdentity(app.client_id, app.object_id, APPIDACR_CERTIFICATE, False, method)


def _by_tls_certificate(
    state: EmulatorState,
    app: AppRegistration | None,
    identity: ManagedIdentity | None,
    client_id: str,
    context: TokenRequestContext,
) -> ClientIdentity:
    certificate = context.client_certificate
    if certificate is None:
        raise codes.CLIENT_CERTIFICATE_REQUIRED.fail(purpose="client authentication")
    now = state.clock.now()
    if app is not None and _app_certificate_ok(state, app, certificate, now):
        return _app_identity(app, "tls_certificate")
    if identity is not None and _imds_certificate_ok(state, identity, certificate, now):
        return ClientIdentity(
            identity.client_id, identity.object_id, APPIDACR_CERTIFICATE, True, "tls_certificate"
        )
    raise codes.CERTIFICATE_NOT_REGISTERED.fail(
        thumbprint=thumbprint_s256(certificate), client_id=client_id
    )


def _app_certificate_ok(
    state: EmulatorState, app: AppRegistration, certificate: x509.Certificate, now: float
) -> bool:
    """Registered by thumbprint, or SN/I. The TLS handshake has already verified the chain the
    client sent (leaf and intermediates) against the emulator's trust (its CAs and the
    registered certificates, which are not CAs), so a certificate here chains to a trusted CA."""
    thumbprint = thumbprint_s256(certificate)
    if thumbprint in app.thumbprints():
        return True
    return assertions.matches_subject_and_issuer(app, certificate, now)


def _imds_certificate_ok(
    state: EmulatorState, identity: ManagedIdentity, certificate: x509.Certificate, now: float
) -> bool:
    """An IMDS v2 binding certificate: issued by `imds_issuer` to `CN=<client id>`, valid now."""
    if not state.imds_issuer.issued(certificate):
        return False
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not names or str(names[0].value).lower() != identity.client_id.lower():
        return False
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc
