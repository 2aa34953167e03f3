"""Before a bound token is cached: its token_type must be mtls_pop and, when it is a readable
JWT, its cnf.x5t#S256 must be the certificate the request presented. A mismatch is a typed
error and nothing is cached (the next call asks the token service again)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from e2e_helpers import build, certificate_config

from identity_web import TokenBindingMismatchError, TokenTypeMismatchError
from identity_web.emulator import Emulator
from identity_web.protocol.rfc8705 import cnf_thumbprint

MTLS = "entra.mtls_token"


def forged_answer(emulator: Emulator, **overrides: Any) -> dict[str, Any]:
    """A 200 from the mTLS host with a token minted by the emulator itself, as the fault
    injection's scripted body."""
    manifest = emulator.manifest
    app = manifest.apps[0]
    token = emulator.state.mint_access_token(
        client_id=app.client_id,
        object_id=app.client_id,
        audience=manifest.resource.scope.removesuffix("/.default"),
        appidacr="2",
        cnf_x5t_s256=overrides.pop("cnf", "A" * 43),
    )
    body = {"token_type": "mtls_pop", "access_token": token, "expires_in": 3600, **overrides}
    return {
        "status": 200,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


@pytest.mark.parametrize("cnf", ["A" * 43, None], ids=["another-certificate", "no-cnf"])
def test_a_token_bound_to_another_certificate_is_refused_and_not_cached(
    emulator: Emulator, cnf: str | None
) -> None:
    manifest = emulator.manifest
    emulator.inject_faults(MTLS, [forged_answer(emulator, cnf=cnf)])
    with build(certificate_config(manifest, ProtocolScheme="MTLS_POP"), manifest) as services:
        with pytest.raises(TokenBindingMismatchError) as refused:
            services.downstream_api.call("MyApi")
        assert refused.value.presented == emulator.demo_credential.x5t_s256
        assert "eyJ" not in str(refused.value)
        response = services.downstream_api.call("MyApi")  # nothing was cached: asks again
    assert response.status == 200
    assert len(emulator.requests(MTLS)) == 2


def test_a_bearer_answer_to_a_bound_request_is_refused(emulator: Emulator) -> None:
    manifest = emulator.manifest
    emulator.inject_faults(MTLS, [forged_answer(emulator, token_type="Bearer")])
    with build(certificate_config(manifest, ProtocolScheme="MTLS_POP"), manifest) as services:
        with pytest.raises(TokenTypeMismatchError):
            services.downstream_api.call("MyApi")
        assert services.downstream_api.call("MyApi").status == 200
    assert len(emulator.requests(MTLS)) == 2


def test_an_opaque_bound_token_is_not_judged_by_its_claims() -> None:
    assert cnf_thumbprint("not-a-jwt") is None
    assert cnf_thumbprint("e30.eyJhdWQiOiJ4In0.") == ""  # a readable JWT without cnf
