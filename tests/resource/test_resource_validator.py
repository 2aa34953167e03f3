"""TokenValidator: what an Entra-protected web API accepts and what it refuses, by class."""

from __future__ import annotations

import base64
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from resource_helpers import (
    CALLER,
    CLIENT_ID,
    INSTANCE,
    KID,
    NOW,
    TENANT,
    azure_ad,
    certificate,
    claims,
    mint,
    other_key,
    signing_key,
    v1_claims,
    validator,
)

from identity_web import ConfigurationError
from identity_web.resource import (
    AuthorizationScheme,
    CertificateBindingError,
    InsufficientScopeError,
    MalformedTokenError,
    TokenAudienceError,
    TokenHeaderError,
    TokenIssuerError,
    TokenLifetimeError,
    TokenSignatureError,
    TokenValidationError,
    TokenValidator,
    TokenVersionError,
    UnknownSigningKeyError,
)

MTLS_POP = AuthorizationScheme.MTLS_POP


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], payload: bytes, signature: bytes = b"sig") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(payload), _b64(signature)])


def test_a_v2_app_token_is_accepted_and_its_claims_are_typed() -> None:
    token = validator().validate(mint(claims()))
    assert token.version == "2.0"
    assert token.app_id == CALLER
    assert token.tenant_id == TENANT
    assert token.scopes == {"Items.Read"}
    assert token.roles == frozenset()
    assert token.bound is False
    assert token.expires_on == int(NOW) + 3600
    assert "Items.Read" not in repr(token)  # claims stay out of the repr


def test_a_v1_token_with_the_sts_issuer_and_api_audience_is_accepted() -> None:
    token = validator().validate(mint(v1_claims()))
    assert (token.version, token.app_id) == ("1.0", CALLER)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"iss": f"https://sts.windows.net/{TENANT}/"}, TokenIssuerError),  # v1 issuer, v2 token
        ({"iss": f"{INSTANCE}{TENANT}/v2.0", "ver": "1.0"}, TokenIssuerError),
        ({"ver": "3.0"}, TokenVersionError),
        ({"ver": None}, TokenVersionError),
        ({"tid": "00000000-0000-0000-0000-000000000001"}, TokenIssuerError),
        ({"iss": "https://evil.example/v2.0"}, TokenIssuerError),
        ({"aud": "api://someone-else"}, TokenAudienceError),
        ({"aud": None}, TokenAudienceError),
        ({"exp": int(NOW) - 301}, TokenLifetimeError),
        ({"nbf": int(NOW) + 301}, TokenLifetimeError),
        ({"exp": "soon"}, MalformedTokenError),
        ({"cnf": {"jkt": "x"}}, MalformedTokenError),
    ],
)
def test_a_wrong_claim_is_refused_with_its_error(
    changes: dict[str, Any], error: type[TokenValidationError]
) -> None:
    with pytest.raises(error):
        validator().validate(mint(claims(**changes)))


def test_the_clock_skew_is_five_minutes_each_way() -> None:
    validator().validate(mint(claims(exp=int(NOW) - 299, nbf=int(NOW) + 299)))


def test_a_multi_tenant_api_accepts_any_tenant_whose_issuer_matches_its_tid() -> None:
    other = "00000000-0000-0000-0000-0000000000aa"
    multi = validator(TenantId="organizations")
    accepted = multi.validate(mint(claims(tid=other, iss=f"{INSTANCE}{other}/v2.0")))
    assert accepted.tenant_id == other
    with pytest.raises(TokenIssuerError):
        multi.validate(mint(claims(tid=other, iss=f"{INSTANCE}{TENANT}/v2.0")))


def test_configured_audiences_and_issuers_are_accepted() -> None:
    custom = validator(
        Audience="https://api.contoso.com",
        TokenValidationParameters={
            "ValidAudiences": ["api://extra"],
            "ValidIssuers": ["https://issuer.contoso.com/{tenantid}/"],
        },
    )
    custom.validate(mint(claims(aud="https://api.contoso.com/")))
    custom.validate(mint(claims(aud="api://extra", iss=f"https://issuer.contoso.com/{TENANT}/")))
    with pytest.raises(TokenAudienceError):  # Audience replaces the ClientId defaults
        custom.validate(mint(claims()))


def test_a_forged_signature_is_refused() -> None:
    with pytest.raises(TokenSignatureError):
        validator().validate(mint(claims(), key=other_key()))


def test_an_unknown_kid_is_refused() -> None:
    with pytest.raises(UnknownSigningKeyError):
        validator().validate(mint(claims(), headers={"kid": "rotated-away"}))


def test_alg_none_is_refused() -> None:
    token = jwt.encode(claims(), None, algorithm="none", headers={"kid": KID})
    with pytest.raises(TokenHeaderError, match="'none' is not accepted"):
        validator().validate(token)


def test_hmac_signed_with_the_public_key_is_refused() -> None:
    """The classic key-confusion attack: HS256 with the RSA public key as the secret."""
    public = (
        signing_key().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    token = ".".join(
        [
            _b64(json.dumps({"alg": "HS256", "kid": KID}).encode()),
            _b64(json.dumps(claims()).encode()),
            "",
        ]
    )
    signing_input = token.rstrip(".").encode()
    signature = hmac.new(public, signing_input, "sha256").digest()
    with pytest.raises(TokenHeaderError, match="HS256"):
        validator().validate(token + _b64(signature))


@pytest.mark.parametrize("name", ["jku", "x5u", "jwk"])
def test_headers_that_point_at_other_keys_are_refused(name: str) -> None:
    token = mint(claims(), headers={name: "https://evil.example/keys"})
    with pytest.raises(TokenHeaderError, match=name):
        validator().validate(token)


def test_critical_header_extensions_are_refused() -> None:
    with pytest.raises(TokenValidationError):
        validator().validate(mint(claims(), headers={"crit": ["exp"], "exp": 1}))


def test_a_token_without_kid_is_refused() -> None:
    token = jwt.encode(claims(), signing_key(), algorithm="RS256")
    with pytest.raises(TokenHeaderError, match="kid"):
        validator().validate(token)


def test_a_huge_header_is_refused_before_any_parsing() -> None:
    token = mint(claims(), headers={"pad": "x" * 4000})
    with pytest.raises(MalformedTokenError, match="header is longer"):
        validator().validate(token)


def test_a_huge_token_is_refused() -> None:
    with pytest.raises(MalformedTokenError, match="longer than"):
        validator().validate(mint(claims(pad="x" * 20_000)))


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b"\xff\xfe", b"[" * 10_000])
def test_a_payload_that_is_not_a_json_object_is_refused(payload: bytes) -> None:
    header = {"alg": "RS256", "kid": KID}
    signing_input = ".".join([_b64(json.dumps(header).encode()), _b64(payload)])
    signature = jwt.get_algorithm_by_name("RS256").sign(signing_input.encode(), signing_key())
    with pytest.raises(MalformedTokenError):
        validator().validate(f"{signing_input}.{_b64(signature)}")


@pytest.mark.parametrize(
    "token", ["", "abc", "a.b", "a.b.c", "e30.e30.", "...", _b64(b"[" * 1500) + ".e30.e30"]
)
def test_garbage_is_a_malformed_token(token: str) -> None:
    with pytest.raises(TokenValidationError):
        validator().validate(token)


# -- RFC 8705 certificate binding -------------------------------------------------------------


def test_a_bound_token_with_its_certificate_is_accepted() -> None:
    _, thumbprint = certificate()
    token = validator().validate(
        mint(claims(cnf={"x5t#S256": thumbprint})),
        scheme=MTLS_POP,
        certificate_thumbprint=thumbprint,
    )
    assert token.bound
    assert token.cnf_x5t_s256 == token.client_certificate_thumbprint == thumbprint


@pytest.mark.parametrize(
    ("scheme", "presented", "reason"),
    [
        (MTLS_POP, None, "Client certificate required"),
        (MTLS_POP, "other", "does not match"),
        (AuthorizationScheme.BEARER, "same", "mtls_pop scheme"),
    ],
)
def test_a_bound_token_is_refused_without_its_certificate_or_scheme(
    scheme: AuthorizationScheme, presented: str | None, reason: str
) -> None:
    _, thumbprint = certificate()
    _, other = certificate("someone else")
    shown = {"same": thumbprint, "other": other, None: None}[presented]
    with pytest.raises(CertificateBindingError, match=reason):
        validator().validate(
            mint(claims(cnf={"x5t#S256": thumbprint})),
            scheme=scheme,
            certificate_thumbprint=shown,
        )


def test_an_unbound_token_under_the_mtls_pop_scheme_is_refused() -> None:
    with pytest.raises(CertificateBindingError, match="not certificate-bound"):
        validator().validate(mint(claims()), scheme=MTLS_POP)


def test_require_bound_tokens_refuses_bearer_tokens() -> None:
    with pytest.raises(CertificateBindingError, match="RequireBoundTokens"):
        validator(RequireBoundTokens=True).validate(mint(claims()))
    assert not validator(RequireBoundTokens=False).validate(mint(claims())).bound


# -- authorization: scp, roles, access list ----------------------------------------------------


def test_a_token_with_neither_scp_nor_roles_needs_the_acl_setting() -> None:
    app_token = mint(claims(scp=None))
    with pytest.raises(InsufficientScopeError, match="IDW10201"):
        validator().validate(app_token)
    assert validator(AllowWebApiToBeAuthorizedByACL=True).validate(app_token).scopes == set()


def test_required_scopes_and_roles_are_any_of() -> None:
    token = validator().validate(mint(claims(scp="Items.Read Items.Write", roles=["Admin"])))
    token.require_scopes("Items.Delete", "Items.Write")
    token.require_roles("Reader", "Admin")
    with pytest.raises(InsufficientScopeError, match=r"Items\.Delete"):
        token.require_scopes("Items.Delete")
    with pytest.raises(InsufficientScopeError, match="Owner"):
        token.require_roles("Owner")


# -- from settings --------------------------------------------------------------------------------


def test_settings_without_an_authority_or_audience_are_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match=r"AzureAd\.TenantId"):
        TokenValidator.from_settings(azure_ad(TenantId=None, Instance=None))
    with pytest.raises(ConfigurationError, match=r"AzureAd\.ClientId"):
        TokenValidator.from_settings(azure_ad(ClientId=None))


def test_sovereign_clouds_accept_only_v2_issuers() -> None:
    cloud = TokenValidator.from_settings(azure_ad(Instance="https://login.microsoftonline.us/"))
    assert [t.template for t in cloud.options.issuers] == [
        "https://login.microsoftonline.us/{tenantid}/v2.0"
    ]
    assert CLIENT_ID in cloud.options.audiences


async def test_validate_async_gives_the_same_answer() -> None:
    token = await validator().validate_async(mint(claims()))
    assert token.app_id == CALLER
    with pytest.raises(TokenSignatureError):
        await validator().validate_async(mint(claims(), key=other_key()))
