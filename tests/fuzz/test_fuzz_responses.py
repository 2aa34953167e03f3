"""Fuzzing the response parsers: token, IMDS v1, IMDS v2, OpenID, App Service, Arc, retry hints
and JWKS. Whatever a server sends, only the package's typed errors come out."""

from __future__ import annotations

import base64
import json
import math

from cryptography.hazmat.primitives import serialization
from fuzz_strategies import any_text, bodies, headers, json_values, objects_with, responses
from fuzz_strategies import typed_only as typed
from hypothesis import given
from hypothesis import strategies as st
from tests_support_certs import KEY, certificate_der

from identity_web import IdentityWebError, ServiceError
from identity_web.protocol import entra, imds, imds_v2, mi_sources, oauth2, retry
from identity_web.protocol._http import HttpResponse
from identity_web.resource._keys import parse_jwks

NOW = 1_700_000_000.0
URL = "https://login.microsoftonline.com/t/oauth2/v2.0/token"
TOKEN_FIELDS = (
    "access_token", "token_type", "expires_in", "refresh_in", "ext_expires_in", "error",
    "error_description", "error_codes", "correlation_id", "trace_id", "suberror", "claims",
)  # fmt: skip
MI_FIELDS = (
    "access_token", "expires_on", "expires_in", "token_type", "resource", "client_id", "error",
    "error_description", "error_codes", "message", "statusCode", "correlationId",
)  # fmt: skip
MI_HEADERS = ("server", "x-ms-request-id", "retry-after", "date", "www-authenticate")
IDENTITIES = st.sampled_from(
    [imds.ManagedIdentityId(), imds.ManagedIdentityId("client_id", "c0ffee")]
)


@given(responses(TOKEN_FIELDS, ("client-request-id", "content-type")), st.sampled_from(
    [None, "Bearer", "mtls_pop"]
))  # fmt: skip
def test_token_response(response: HttpResponse, requested: str | None) -> None:
    parsed = typed(
        lambda: oauth2.parse_token_response(
            response, now=NOW, requested_token_type=requested, token_endpoint=URL
        )
    )
    if parsed is not None:
        assert math.isfinite(parsed.expires_on)
        assert parsed.refresh_on is None or math.isfinite(parsed.refresh_on)
    error = oauth2.parse_error_response(response, endpoint=URL)
    assert isinstance(error, ServiceError)
    assert str(error)


@given(responses(MI_FIELDS, MI_HEADERS), IDENTITIES)
def test_imds_v1_token_response(response: HttpResponse, identity: imds.ManagedIdentityId) -> None:
    parsed = typed(lambda: imds.parse_managed_identity_token(response, now=NOW, endpoint=URL))
    if parsed is not None:
        assert math.isfinite(parsed.expires_on)
    error = imds.imds_error(response, identity)
    assert isinstance(error, IdentityWebError)
    assert str(error)


@given(
    responses(MI_FIELDS, MI_HEADERS),
    IDENTITIES,
    st.sampled_from(list(mi_sources.ManagedIdentitySource)),
)
def test_app_service_and_arc_responses(
    response: HttpResponse,
    identity: imds.ManagedIdentityId,
    source: mi_sources.ManagedIdentitySource,
) -> None:
    detected = mi_sources.DetectedSource(source, "http://127.0.0.1:41234/msi/token")
    parsed = typed(lambda: imds.parse_managed_identity_token(response, now=NOW, endpoint=URL))
    if parsed is not None:
        assert math.isfinite(parsed.expires_on)
    error = mi_sources.source_error(detected, response, identity)
    assert isinstance(error, IdentityWebError)
    assert str(error)


realms = st.one_of(
    any_text,
    st.sampled_from(["/var/opt/azcmagent/tokens/x.key", '"/var/opt/azcmagent/tokens/a.key"']),
    any_text.map(lambda t: f"/var/opt/azcmagent/tokens/{t}.key"),
).map(lambda realm: f"Basic realm={realm}")


@given(st.one_of(realms, any_text).filter(lambda t: "\n" not in t))
def test_arc_challenge(challenge: str) -> None:
    response = HttpResponse(401, {"www-authenticate": challenge}, b"")
    path = typed(lambda: mi_sources.arc_key_path(response, "/var/opt/azcmagent/tokens"))
    if path is not None:
        assert path.startswith("/var/opt/azcmagent/tokens/")
        assert path.endswith(".key")


METADATA_FIELDS = (
    "clientId", "tenantId", "cuId", "attestationEndpoint", "client_id", "tenant_id", "cu_id",
    "attestation_endpoint",
)  # fmt: skip
IMDS_SERVER = ("server",)


def _imds_response(fields: tuple[str, ...]) -> st.SearchStrategy[HttpResponse]:
    server = st.sampled_from(["IMDS/150.870.65.1854", "nginx", ""]) | any_text
    return st.builds(
        HttpResponse,
        status=st.sampled_from([200, 200, 200, 400, 404, 500]),
        headers=st.builds(lambda s: {"server": s}, server.filter(lambda t: "\n" not in t)),
        body=bodies(fields),
    )


@given(_imds_response(METADATA_FIELDS), IDENTITIES)
def test_imds_v2_platform_metadata(
    response: HttpResponse, identity: imds.ManagedIdentityId
) -> None:
    typed(lambda: imds_v2.parse_platform_metadata(response, identity))


ISSUED_FIELDS = (
    "client_id", "tenant_id", "certificate", "identity_type", "mtls_authentication_endpoint",
)  # fmt: skip
certificates = st.one_of(
    any_text,
    st.just(base64.b64encode(certificate_der()).decode()),
    st.binary(max_size=200).map(lambda b: base64.b64encode(b).decode()),
    st.integers(0, 400).map(lambda n: base64.b64encode(certificate_der()[:n]).decode()),
)


@given(
    st.builds(dict, client_id=any_text, tenant_id=any_text, certificate=certificates,
              identity_type=any_text, mtls_authentication_endpoint=any_text)
    | objects_with(ISSUED_FIELDS),
    st.sampled_from([200, 200, 500]),
    IDENTITIES,
)  # fmt: skip
def test_imds_v2_issued_credential(
    body: dict[str, object], status: int, identity: imds.ManagedIdentityId
) -> None:
    data = json.dumps(body).encode("utf-8", errors="surrogatepass")
    response = HttpResponse(status, {"server": "IMDS/150.870.65.1854"}, data)
    typed(lambda: imds_v2.parse_issued_credential(response, KEY, identity))


@given(_imds_response(ISSUED_FIELDS), IDENTITIES)
def test_imds_v2_issued_credential_bodies(
    response: HttpResponse, identity: imds.ManagedIdentityId
) -> None:
    typed(lambda: imds_v2.parse_issued_credential(response, KEY, identity))


openid_documents = st.one_of(
    st.builds(
        lambda endpoint, extra: {"mtls_endpoint_aliases": {"token_endpoint": endpoint, **extra}},
        st.one_of(
            any_text, json_values, st.sampled_from(["https://[", "https://[::1", "http://x"])
        ),
        objects_with(["token_endpoint"]),
    ),
    objects_with(["mtls_endpoint_aliases", "issuer", "token_endpoint"]),
)


@given(
    st.one_of(
        openid_documents.map(lambda d: HttpResponse(200, {}, _json(d))),
        responses(["mtls_endpoint_aliases", "token_endpoint", "error"]),
    )
)
def test_openid_configuration(response: HttpResponse) -> None:
    endpoint = typed(lambda: entra.parse_mtls_endpoint(response, url=URL))
    if endpoint is not None:
        assert endpoint.lower().startswith("https:")


def _json(value: object) -> bytes:
    return json.dumps(value).encode("utf-8", errors="surrogatepass")


@given(headers(["retry-after", "date"]), st.sampled_from([429, 503, 500, 410, 404]))
def test_retry_hints(hints: dict[str, str], status: int) -> None:
    response = HttpResponse(status, hints, b"")
    seconds = retry.retry_after_seconds(response)
    assert seconds is None or (seconds >= 0 and not math.isnan(seconds))
    for policy in (
        retry.imds_policy(),
        retry.sts_policy(),
        retry.managed_identity_default_policy(),
    ):
        delay = policy.next_delay(1, response, 0.0)
        assert delay is None or 0 <= delay <= 100


jwk_entries = st.one_of(
    objects_with(["kty", "kid", "use", "n", "e", "x", "y", "crv", "alg", "x5c", "k"]),
    st.builds(
        lambda n, e, kid, alg: {"kty": "RSA", "n": n, "e": e, "kid": kid, "alg": alg},
        any_text | st.sampled_from(["", "AQAB", "____", "AA"]),
        any_text | st.sampled_from(["", "AQAB", "AA"]),
        any_text,
        st.sampled_from(["RS256", "ES256", "none", "HS256", ""]) | any_text,
    ),
    st.builds(
        lambda crv, x, y: {"kty": "EC", "crv": crv, "x": x, "y": y, "kid": "k"},
        st.sampled_from(["P-256", "P-384", "P-521", "secp256k1", "Ed25519", ""]),
        any_text,
        any_text,
    ),
)


@given(st.one_of(st.builds(lambda keys: {"keys": keys}, st.lists(jwk_entries, max_size=4)),
                 objects_with(["keys"])))  # fmt: skip
def test_jwks_documents(document: dict[str, object]) -> None:
    keys = parse_jwks(document)
    assert all(isinstance(kid, str) and kid for kid in keys)


def test_fixture_key_is_rsa() -> None:
    """The issued-credential fuzz needs a key its certificate does not match."""
    assert KEY.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
