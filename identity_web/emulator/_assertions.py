"""Client assertions: JWTs signed by an app certificate (RFC 7523) and federated identity
credentials (a managed identity's token for `api://AzureADTokenExchange` used as assertion)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509

from identity_web.emulator import _aadsts as codes
from identity_web.emulator import _jwt
from identity_web.emulator._directory import TOKEN_EXCHANGE_AUDIENCES, AppRegistration
from identity_web.emulator._pki import thumbprint_s256
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._validation import InvalidTokenError, JwksValidator, check_lifetime

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_POP = "urn:ietf:params:oauth:client-assertion-type:jwt-pop"


@dataclass(frozen=True, slots=True)
class AssertionCheck:
    """What an assertion is checked against."""

    client_id: str
    accepted_audiences: Sequence[str]
    tls_thumbprint: str | None
    now: float
    skew: float


def is_issued_by_us(state: EmulatorState, decoded: _jwt.DecodedJwt) -> bool:
    """True for our own access tokens (used as federated identity credentials)."""
    return decoded.header.get("kid") == state.signing.kid or decoded.claims.get("iss") == (
        state.issuer
    )


def decode(assertion: str) -> _jwt.DecodedJwt:
    try:
        return _jwt.decode(assertion)
    except _jwt.JwtError as error:
        raise codes.ASSERTION_MALFORMED.fail(detail=str(error)) from error


# --- RFC 7523 assertions signed by an app certificate ------------------------------------------


def verify_app_assertion(
    state: EmulatorState, app: AppRegistration, decoded: _jwt.DecodedJwt, check: AssertionCheck
) -> x509.Certificate:
    """The certificate that signed the assertion. Raise `TokenRequestError` unless the assertion
    authenticates `app` and, when it came with a TLS client certificate (`check.tls_thumbprint`),
    was signed by that very certificate."""
    if decoded.algorithm not in _jwt.SUPPORTED_ALGORITHMS:
        raise codes.ASSERTION_MALFORMED.fail(detail=f"Unsupported alg '{decoded.algorithm}'.")
    certificate = signing_certificate(state, app, decoded.header, check.now)
    try:
        decoded.verify(certificate.public_key())
    except _jwt.JwtError as error:
        raise codes.BAD_SIGNATURE.fail() from error
    claims = decoded.claims
    if claims.get("iss") != check.client_id or claims.get("sub") != check.client_id:
        raise codes.ASSERTION_WRONG_CLIENT.fail()
    audience = claims.get("aud")
    if not _audience_ok(audience, check.accepted_audiences):
        raise codes.ASSERTION_WRONG_AUDIENCE.fail(
            audience=str(audience), expected=check.accepted_audiences[0]
        )
    _check_assertion_time(claims, check)
    _check_signed_by_tls_certificate(certificate, check.tls_thumbprint)
    return certificate


def _check_signed_by_tls_certificate(signer: x509.Certificate, tls_thumbprint: str | None) -> None:
    """Over mTLS (UseBoundCredential, Bearer over mTLS) the assertion's certificate, named by
    `x5t#S256` / `x5t` or sent in `x5c`, must be the certificate presented at TLS."""
    if tls_thumbprint is None:
        return
    signed_by = thumbprint_s256(signer)
    if signed_by != tls_thumbprint:
        raise codes.ASSERTION_NOT_FROM_TLS_CERTIFICATE.fail(
            signer=signed_by, presented=tls_thumbprint
        )


def signing_certificate(
    state: EmulatorState, app: AppRegistration, header: Mapping[str, Any], now: float
) -> x509.Certificate:
    """The registered certificate named by `x5t#S256` / `x5t` (valid now: else AADSTS1000502),
    or an SN/I match from `x5c` whose chain (leaf, then intermediates) reaches the emulator CA."""
    x5t_s256 = header.get("x5t#S256")
    x5t = header.get("x5t")
    found = app.certificate_by_thumbprint(
        x5t_s256=x5t_s256 if isinstance(x5t_s256, str) else None,
        x5t=x5t if isinstance(x5t, str) else None,
    )
    if found is not None:
        _check_validity(found, now)
        return found
    chain = _x5c_chain(header.get("x5c"))
    leaf = chain[0] if chain else None
    if (
        leaf is not None
        and state.ca.issued_through(leaf, chain[1:])
        and matches_subject_and_issuer(app, leaf, now)
    ):
        return leaf
    shown = x5t_s256 or x5t or (thumbprint_s256(leaf) if leaf else "none")
    raise codes.UNKNOWN_KEY.fail(thumbprint=str(shown), client_id=app.client_id)


def _valid_at(certificate: x509.Certificate, now: float) -> bool:
    moment = dt.datetime.fromtimestamp(now, dt.UTC)
    return certificate.not_valid_before_utc <= moment <= certificate.not_valid_after_utc


def _check_validity(certificate: x509.Certificate, now: float) -> None:
    if not _valid_at(certificate, now):
        raise codes.CERTIFICATE_OUTSIDE_VALIDITY.fail(
            thumbprint=thumbprint_s256(certificate),
            not_before=codes.timestamp(certificate.not_valid_before_utc.timestamp()),
            not_after=codes.timestamp(certificate.not_valid_after_utc.timestamp()),
        )


def matches_subject_and_issuer(
    app: AppRegistration, certificate: x509.Certificate, now: float
) -> bool:
    """SN/I: valid now, with the subject and issuer of a registered certificate. The caller
    has established that the certificate chains to a trusted CA."""
    return _valid_at(certificate, now) and any(
        registered.subject == certificate.subject and registered.issuer == certificate.issuer
        for registered in app.certificates
    )


def _x5c_chain(x5c: object) -> list[x509.Certificate]:
    """The `x5c` certificates, leaf first; empty when the header is missing or unreadable."""
    if not isinstance(x5c, list) or not all(isinstance(item, str) for item in x5c):
        return []
    try:
        return [x509.load_der_x509_certificate(base64.b64decode(item)) for item in x5c]
    except ValueError:
        return []


def _audience_ok(audience: object, accepted: Sequence[str]) -> bool:
    values = audience if isinstance(audience, list) else [audience]
    wanted = {a.rstrip("/").lower() for a in accepted}
    return any(isinstance(v, str) and v.rstrip("/").lower() in wanted for v in values)


def _exchange_audience_ok(audience: object) -> bool:
    """Entra compares a federated credential's audience exactly (case and all)."""
    values = audience if isinstance(audience, list) else [audience]
    return any(value in TOKEN_EXCHANGE_AUDIENCES for value in values)


def _check_assertion_time(claims: Mapping[str, Any], check: AssertionCheck) -> None:
    try:
        check_lifetime(claims, now=check.now, skew=check.skew)
    except InvalidTokenError as error:
        if error.kind not in ("expired", "not_yet_valid"):
            raise codes.ASSERTION_MALFORMED.fail(detail=error.reason) from error
        raise codes.ASSERTION_EXPIRED.fail(
            now=codes.timestamp(check.now),
            nbf=codes.timestamp(float(claims.get("nbf", 0))),
            exp=codes.timestamp(float(claims.get("exp", 0))),
        ) from error


# --- federated identity credentials (managed identity token as assertion) ---------------------


def verify_federated_assertion(
    state: EmulatorState, app: AppRegistration, assertion: str, check: AssertionCheck
) -> None:
    """The assertion is our token for the exchange audience, issued to a managed identity the
    app trusts; when it is bound (`cnf`), the TLS client certificate must be the same one."""
    validator = JwksValidator(state.signing.jwks, lambda: state.issuer)
    try:
        claims = validator.verify_signature(assertion).claims
    except InvalidTokenError as error:
        raise codes.FIC_NO_MATCH.fail(detail=error.reason) from error
    if claims.get("iss") != state.issuer:
        raise codes.FIC_ISSUER_MISMATCH.fail(issuer=str(claims.get("iss")))
    if not _exchange_audience_ok(claims.get("aud")):
        raise codes.FIC_AUDIENCE_MISMATCH.fail(audience=str(claims.get("aud")))
    _check_assertion_time(claims, check)
    subject = str(claims.get("sub") or "")
    if not trusted_subject(state, app, subject):
        raise codes.FIC_SUBJECT_MISMATCH.fail(subject=subject)
    check_binding(claims, check.tls_thumbprint)


def trusted_subject(state: EmulatorState, app: AppRegistration, subject: str) -> bool:
    """A managed identity's federated credential names its object (principal) id as subject:
    `subject` must be the object id of a managed identity the app trusts."""
    identity = state.find_managed_identity(object_id=subject) if subject else None
    return identity is not None and app.trusts_managed_identity(identity.client_id)


def check_binding(claims: Mapping[str, Any], tls_thumbprint: str | None) -> None:
    """A bound assertion (`cnf.x5t#S256`) is only accepted with that very TLS certificate."""
    cnf = claims.get("cnf")
    expected = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
    if expected is None:
        return
    if tls_thumbprint != expected:
        raise codes.ASSERTION_CNF_MISMATCH.fail(
            expected=str(expected), actual=tls_thumbprint or "none"
        )


def require_bound(decoded: _jwt.DecodedJwt) -> None:
    """A `jwt-pop` assertion must carry `cnf.x5t#S256`."""
    cnf = decoded.claims.get("cnf")
    if not (isinstance(cnf, dict) and isinstance(cnf.get("x5t#S256"), str)):
        raise codes.ASSERTION_CNF_MISMATCH.fail(
            expected="none (the assertion has no cnf)", actual="-"
        )
