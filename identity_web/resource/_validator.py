"""`TokenValidator`: an Entra access token in, a `ValidatedToken` or a typed refusal out.

The JOSE work (parsing the compact JWS, checking the RS256 signature) is PyJWT's; this module
decides what is acceptable around it, in this order, cheapest refusal first:

1. size and header: at most `max_token_length` characters; `alg` in the allow list (never
   `none` or an HMAC algorithm, whose "key" would be our public key); no `jku`, `x5u`, `jwk`
   or `crit` header (keys come only from the authority's metadata); a `kid`;
2. the key for `kid` (`SigningKeys`), then the signature and the JSON payload (PyJWT);
3. `ver`, `iss` (matching the version's form and `tid`), `aud`, `exp`/`nbf` with the skew;
4. RFC 8705: a token with `cnf.x5t#S256` only under the `mtls_pop` scheme and only with the TLS
   client certificate of that thumbprint; with `RequireBoundTokens`, only bound tokens;
5. unless `AllowWebApiToBeAuthorizedByACL`, a `scp` or `roles` claim (IDW10201).

The clock is injected (`clock()`, epoch seconds) so the emulator's shifted clock is honoured.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import jwt

from identity_web.resource._errors import (
    CertificateBindingError,
    InsufficientScopeError,
    MalformedTokenError,
    TokenAudienceError,
    TokenHeaderError,
    TokenIssuerError,
    TokenLifetimeError,
    TokenSignatureError,
    TokenVersionError,
)
from identity_web.resource._keys import OpenIdSigningKeys, PublicKey, SigningKeys
from identity_web.resource._options import TokenValidationOptions, metadata_url
from identity_web.resource._token import AuthorizationScheme, ValidatedToken
from identity_web.settings import MicrosoftIdentityApplicationOptions

#: Header parameters that would let the token choose its own key: never honoured, refused.
FORBIDDEN_HEADERS = ("jku", "x5u", "jwk", "crit")
VERSIONS = ("1.0", "2.0")
_PYJWT_OPTIONS: Any = {
    "verify_signature": True,
    "verify_exp": False,  # lifetime is checked against the injected clock
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,  # audience and issuer rules are Entra's, below
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}

BOUND_WITHOUT_CERTIFICATE = "Client certificate required for using MTLS_POP token"


class TokenValidator:
    """Validates access tokens for one protected web API (thread-safe, async-safe)."""

    def __init__(
        self,
        options: TokenValidationOptions,
        keys: SigningKeys,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.options = options
        self.keys = keys
        self._clock = clock
        self._audiences = frozenset(_folded(a) for a in options.audiences)

    @classmethod
    def from_settings(
        cls,
        azure_ad: MicrosoftIdentityApplicationOptions,
        *,
        keys: SigningKeys | None = None,
        ca_bundle: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> TokenValidator:
        """From the `AzureAd` section; keys from its authority's OpenID metadata by default."""
        options = TokenValidationOptions.from_settings(azure_ad)
        if keys is None:
            keys = OpenIdSigningKeys(metadata_url(azure_ad), ca_bundle=ca_bundle)
        return cls(options, keys, clock=clock)

    def validate(
        self,
        token: str,
        *,
        scheme: AuthorizationScheme = AuthorizationScheme.BEARER,
        certificate_thumbprint: str | None = None,
    ) -> ValidatedToken:
        """Validate `token` as received under `scheme` over a connection whose TLS client
        certificate has `certificate_thumbprint` (x5t#S256; None: no certificate). May block
        to fetch signing keys: in async code use `validate_async`."""
        key = self.keys.key(self._kid(token))
        return self._finish(token, key, scheme, certificate_thumbprint)

    async def validate_async(
        self,
        token: str,
        *,
        scheme: AuthorizationScheme = AuthorizationScheme.BEARER,
        certificate_thumbprint: str | None = None,
    ) -> ValidatedToken:
        """`validate` for the event loop: a key fetch, when one is needed, runs in a thread."""
        kid = self._kid(token)
        key = self.keys.cached(kid)
        if key is None:
            key = await asyncio.to_thread(self.keys.key, kid)
        return self._finish(token, key, scheme, certificate_thumbprint)

    # -- 1. size and header ----------------------------------------------------------------

    def _kid(self, token: str) -> str:
        options = self.options
        if len(token) > options.max_token_length:
            raise MalformedTokenError(
                f"the token is longer than {options.max_token_length} characters"
            )
        segment = token.partition(".")[0]
        if len(segment) > options.max_header_length:
            raise MalformedTokenError(
                f"the token header is longer than {options.max_header_length} characters"
            )
        header = _unverified_header(segment)
        algorithm = header.get("alg")
        if algorithm not in options.algorithms:
            raise TokenHeaderError(
                f"the signing algorithm {str(algorithm)[:16]!r} is not accepted; "
                f"accepted: {', '.join(options.algorithms)}"
            )
        forbidden = [name for name in FORBIDDEN_HEADERS if name in header]
        if forbidden:
            raise TokenHeaderError(f"the token header must not carry {', '.join(forbidden)}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenHeaderError("the token header has no kid")
        return kid

    # -- 2. signature and payload -----------------------------------------------------------

    def _finish(
        self,
        token: str,
        key: PublicKey,
        scheme: AuthorizationScheme,
        certificate_thumbprint: str | None,
    ) -> ValidatedToken:
        try:
            claims = jwt.decode(
                token, key, algorithms=list(self.options.algorithms), options=_PYJWT_OPTIONS
            )
        except jwt.InvalidSignatureError as error:
            raise TokenSignatureError("the signature does not verify") from error
        except (jwt.PyJWTError, RecursionError) as error:  # deep nesting stops json's parser
            raise MalformedTokenError("the token payload is not a JSON object") from error
        self._check_claims(claims)
        validated = ValidatedToken(MappingProxyType(claims), scheme, certificate_thumbprint)
        self._check_binding(validated)
        self._check_authorized(validated)
        return validated

    # -- 3. claims --------------------------------------------------------------------------

    def _check_claims(self, claims: Mapping[str, Any]) -> None:
        version = claims.get("ver")
        if version not in VERSIONS:
            raise TokenVersionError(f"the token version {str(version)[:8]!r} is not 1.0 or 2.0")
        self._check_issuer(claims, str(version))
        audience = claims.get("aud")
        candidates = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and _folded(a) in self._audiences for a in candidates):
            raise TokenAudienceError(
                f"the audience is not accepted; expected one of {', '.join(self.options.audiences)}"
            )
        self._check_lifetime(claims)

    def _check_issuer(self, claims: Mapping[str, Any], version: str) -> None:
        issuer, tenant = claims.get("iss"), claims.get("tid")
        if not isinstance(issuer, str) or (tenant is not None and not isinstance(tenant, str)):
            raise MalformedTokenError("iss and tid must be strings")
        pinned = self.options.tenant_id
        if pinned is not None and (tenant or "").lower() != pinned:
            raise TokenIssuerError(f"the token is not from tenant {pinned} (tid)")
        if not any(t.matches(issuer, tenant, version) for t in self.options.issuers):
            accepted = ", ".join(t.template for t in self.options.issuers)
            raise TokenIssuerError(
                f"the issuer is not accepted for a v{version} token; accepted: {accepted}"
            )

    def _check_lifetime(self, claims: Mapping[str, Any]) -> None:
        expires, not_before = claims.get("exp"), claims.get("nbf", claims.get("iat", 0))
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            raise MalformedTokenError("exp and nbf must be numbers")
        now, skew = self._clock(), self.options.clock_skew
        if now > expires + skew:
            raise TokenLifetimeError("the token has expired")
        if now + skew < not_before:
            raise TokenLifetimeError("the token is not valid yet")

    # -- 4. RFC 8705 binding ------------------------------------------------------------------

    def _check_binding(self, token: ValidatedToken) -> None:
        expected = token.cnf_x5t_s256
        if expected is None:
            if "cnf" in token.claims:
                raise MalformedTokenError("the cnf claim has no x5t#S256 string")
            if token.scheme is AuthorizationScheme.MTLS_POP:
                raise CertificateBindingError("The token is not certificate-bound (no cnf claim)")
            if self.options.require_bound_tokens:
                raise CertificateBindingError(
                    "Only certificate-bound tokens are accepted (RequireBoundTokens)"
                )
            return
        if token.scheme is not AuthorizationScheme.MTLS_POP:
            raise CertificateBindingError("A certificate-bound token must use the mtls_pop scheme")
        actual = token.client_certificate_thumbprint
        if actual is None:
            raise CertificateBindingError(BOUND_WITHOUT_CERTIFICATE)
        if not hmac.compare_digest(actual.encode("ascii"), expected.encode("ascii", "replace")):
            raise CertificateBindingError(
                "The TLS client certificate does not match the token's cnf x5t#S256"
            )

    # -- 5. authorization by scope, role or access list ---------------------------------------

    def _check_authorized(self, token: ValidatedToken) -> None:
        if self.options.allow_acl_authorization or token.scopes or token.roles:
            return
        raise InsufficientScopeError(
            "IDW10201: Neither scope nor roles claim was found in the token; an API that "
            "authorizes callers by an access list sets AzureAd.AllowWebApiToBeAuthorizedByACL"
        )


def _unverified_header(segment: str) -> dict[str, Any]:
    """The JOSE header, read only to pick the key and refuse early; PyJWT parses the whole
    token again when it verifies. (PyJWT's `get_unverified_header` decodes every segment
    character by character: half the cost of a validation.)"""
    try:
        header = json.loads(jwt.utils.base64url_decode(segment))
    except (ValueError, TypeError, RecursionError) as error:
        raise MalformedTokenError("the token is not a JWS with a JSON header") from error
    if not isinstance(header, dict):
        raise MalformedTokenError("the token header is not a JSON object")
    return header


def _folded(audience: str) -> str:
    return audience.rstrip("/").casefold()


__all__ = ["BOUND_WITHOUT_CERTIFICATE", "TokenValidator"]
