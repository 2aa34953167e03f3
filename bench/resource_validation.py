"""6. Protecting a web API: validating an incoming access token whose signing key is cached.

Ours: `TokenValidator.validate` (header and size checks, PyJWT's RS256 verification, the Entra
issuer/audience/version/lifetime rules and, for a bound token, `cnf.x5t#S256` against the TLS
client certificate's thumbprint), and `ProtectedWebApi.authenticate` (the same from the
`Authorization` header value). Peer: PyJWT's own `jwt.decode` of the same token with the same
public key object, checking signature, `exp`, `aud` and `iss`. The issue's target: ours costs
at most 2x the peer (ratio >= 0.5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jwt

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Label
from bench._setup import BenchEnv
from bench._timing import time_interleaved
from identity_web.emulator import Emulator
from identity_web.emulator._validation import resource_validator
from identity_web.resource import AuthorizationScheme, JwksSigningKeys, ProtectedWebApi

NAME = "resource_validation"
TITLE = "6. web API: validate an access token (signing key cached)"
BEARER = "Bearer token"
BOUND = "bound token + cnf check"
HEADER = "bound, from the Authorization header"

COLUMNS = (
    Column("ops_per_s", "ops/s", 0),
    Column("p50_us", "p50 µs", 2),
    Column("p99_us", "p99 µs", 2),
)


def run(env: BenchEnv, params: Params) -> BenchResult:
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="ops_per_s",
        ratio_meaning=">1 means ours validates more tokens per second (target: >= 0.5)",
    )
    with Emulator() as emulator:  # its signing keys and token minting, in this process
        _measure(result, env, params, emulator)
    result.compute_ratios()
    result.notes.append(
        "same token, same RSA public key object, same process, implementations alternating in "
        "5 rounds; PyJWT checks signature, exp, aud and iss; ours adds the header allow list, "
        "kid lookup, ver/tid/issuer-template rules, nbf, and the cnf binding; no network"
    )
    return result


def _measure(result: BenchResult, env: BenchEnv, params: Params, emulator: Emulator) -> None:
    state = emulator.state
    audience = env.scope.removesuffix("/.default")
    keys = JwksSigningKeys(state.signing.jwks)
    validator = resource_validator(keys, state.issuer, [audience], state.clock.now)
    api = ProtectedWebApi(validator)
    public_key = keys.key(state.signing.kid)
    thumbprint = emulator.demo_credential.x5t_s256
    bearer, bound = _token(emulator, audience, None), _token(emulator, audience, thumbprint)
    peer = _pyjwt(public_key, audience, state.issuer)
    pop = AuthorizationScheme.MTLS_POP
    cases: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
        (BEARER, lambda: validator.validate(bearer), lambda: peer(bearer)),
        (
            BOUND,
            lambda: validator.validate(bound, scheme=pop, certificate_thumbprint=thumbprint),
            lambda: peer(bound),
        ),
        (
            HEADER,
            lambda: api.authenticate(f"mtls_pop {bound}", thumbprint),
            lambda: peer(f"mtls_pop {bound}".partition(" ")[2]),
        ),
    ]
    calls = max(100, params.hit_calls // 10)  # an RSA verification is ~1000x a cache hit
    for case, ours, theirs in cases:
        timed = time_interleaved([(ours, calls), (theirs, calls)])
        result.add(Label(case, "identity-web", OURS).row(timed[0].metrics()))
        result.add(Label(case, "pyjwt decode", PEER).row(timed[1].metrics()))


def _token(emulator: Emulator, audience: str, cnf: str | None) -> str:
    app = emulator.demo_app
    return emulator.state.mint_access_token(
        client_id=app.client_id,
        object_id=app.object_id,
        audience=audience,
        appidacr="2",
        cnf_x5t_s256=cnf,
    )


def _pyjwt(key: Any, audience: str, issuer: str) -> Callable[[str], object]:
    def call(token: str) -> object:
        return jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer)

    return call
