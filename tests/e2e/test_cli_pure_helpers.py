"""Pure helpers of the CLI: how the demo judges a scenario, how `token` reads claims."""

from __future__ import annotations

import base64
import json

import pytest

from identity_web.cli._demo import SCENARIOS, Outcome, _judged
from identity_web.cli._token import claims_summary, unverified_claims


def _jwt(payload: dict[str, object]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJub25lIn0.{body}.sig"


def test_claims_summary_keeps_only_the_summary_claims() -> None:
    token = _jwt({"aud": "api://r", "appid": "a", "tid": "t", "cnf": {"x5t#S256": "x"}, "x": 1})
    assert claims_summary(token) == {
        "aud": "api://r",
        "appid": "a",
        "tid": "t",
        "cnf": {"x5t#S256": "x"},
    }


@pytest.mark.parametrize("token", ["opaque", "a.b", "a.!!!.c", _jwt({}).replace("e30", "W10")])
def test_unreadable_tokens_give_no_claims(token: str) -> None:
    assert unverified_claims(token) == {}


def _outcome(name: str, **values: object) -> Outcome:
    defaults: dict[str, object] = {"status": 200, "token_type": "mtls_pop"}
    return Outcome(SCENARIOS[name], **{**defaults, **values})  # type: ignore[arg-type]


def test_mtls_pop_is_ok_only_when_cnf_binding_and_client_certificate_agree() -> None:
    agreed = _outcome(
        "cert-mtls", binding_thumbprint="T", cnf_x5t_s256="T", client_cert_x5t_s256="T"
    )
    assert _judged(agreed).ok
    for wrong in ({"client_cert_x5t_s256": "U"}, {"cnf_x5t_s256": None}, {"token_type": "Bearer"}):
        values = {
            "binding_thumbprint": "T",
            "cnf_x5t_s256": "T",
            "client_cert_x5t_s256": "T",
            **wrong,
        }
        assert not _judged(_outcome("cert-mtls", **values)).ok, wrong


def test_bearer_is_not_ok_with_a_bound_token_or_a_non_2xx() -> None:
    assert _judged(_outcome("cert-bearer", token_type="Bearer")).ok
    assert not _judged(_outcome("cert-bearer", token_type="Bearer", cnf_x5t_s256="T")).ok
    assert not _judged(_outcome("cert-bearer", token_type="Bearer", status=401)).ok
