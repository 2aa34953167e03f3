"""Fuzzing: whatever arrives in the Authorization header, the validator answers with a typed
`TokenValidationError` (or a valid token), never another exception."""

from __future__ import annotations

import base64
import contextlib
import json
from typing import Any

import jwt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from resource_helpers import KID, claims, protected_api, signing_key, validator

from identity_web.resource import TokenHeaderError, TokenValidationError

# How many examples: the hypothesis profile (tests/conftest.py; `./run fuzz` runs 10,000).
FUZZ = settings(suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
algorithms = st.sampled_from(["RS256", "none", "HS256", "HS512", "ES256", "PS256", "RS512", ""])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _assemble(header: dict[str, Any], payload: bytes, signature: bytes) -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(payload), _b64(signature)])


def _validate(token: str) -> None:
    with contextlib.suppress(TokenValidationError):
        validator().validate(token)


def _signed(header: dict[str, Any], payload: dict[str, Any]) -> str:
    """RS256 over any JSON (PyJWT's encode would refuse some of the claims we fuzz)."""
    signing_input = ".".join([_b64(json.dumps(h).encode()) for h in (header, payload)])
    signature = jwt.get_algorithm_by_name("RS256").sign(signing_input.encode(), signing_key())
    return f"{signing_input}.{_b64(signature)}"


@FUZZ
@given(st.text(max_size=400))
def test_any_text_is_refused_with_a_typed_error(token: str) -> None:
    with pytest.raises(TokenValidationError):
        validator().validate(token)


@FUZZ
@given(
    header=st.dictionaries(st.text(max_size=10), json_values, max_size=6),
    alg=algorithms,
    payload=st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()),
    signature=st.binary(max_size=300),
)
def test_any_header_and_payload_get_a_typed_answer(
    header: dict[str, Any], alg: str, payload: bytes, signature: bytes
) -> None:
    _validate(_assemble({**header, "alg": alg, "kid": KID}, payload, signature))


@FUZZ
@given(
    changes=st.dictionaries(
        st.sampled_from(["iss", "aud", "exp", "nbf", "ver", "tid", "cnf", "scp", "roles"]),
        json_values,
        max_size=4,
    )
)
def test_well_signed_tokens_with_any_claims_get_a_typed_answer(changes: dict[str, Any]) -> None:
    _validate(_signed({"alg": "RS256", "kid": KID}, claims(**changes)))


@FUZZ
@given(
    name=st.sampled_from(["jku", "x5u", "jwk"]),
    value=json_values,
    alg=st.sampled_from(["RS256"]),
)
def test_key_pointing_headers_are_always_refused(name: str, value: object, alg: str) -> None:
    token = _assemble({"alg": alg, "kid": KID, name: value}, json.dumps(claims()).encode(), b"s")
    with pytest.raises(TokenHeaderError):
        validator().validate(token)


@FUZZ
@given(st.text(max_size=200))
def test_any_authorization_header_gets_a_typed_answer(header: str) -> None:
    with pytest.raises(TokenValidationError) as refused:
        protected_api().authenticate(header, None)
    answer = protected_api().error_response(refused.value)
    assert answer.status in (401, 403, 503)
    sent = header.strip().partition(" ")[2].strip()
    if len(sent) > 12:
        assert sent not in answer.body.decode("utf-8")
