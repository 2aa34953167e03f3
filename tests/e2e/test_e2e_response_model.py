"""`response_model=` on the verbs and on `request`: the emulator's resource API answers, the
body comes back validated and typed, and a mismatch is a typed error naming the API and the
field path, with none of the values (no token, no client id)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, assert_type

import pytest
from e2e_helpers import API, build, certificate_config, secret_config
from pydantic import BaseModel
from typing_extensions import TypedDict  # pydantic needs it over typing.TypedDict before 3.12

from identity_web import (
    DownstreamApiError,
    DownstreamResponse,
    IdentityWebError,
    ResponseValidationError,
)
from identity_web.downstream._model import read_model
from identity_web.emulator import EmulatorManifest


class TokenSummary(BaseModel):
    scheme: str
    appid: str
    bound: bool


class Echo(BaseModel):
    method: str
    path: str
    query: dict[str, str]
    body: Any = None
    token: TokenSummary


class WhoAmI(TypedDict):
    appid: str
    scheme: str


class Strict(BaseModel):
    class Token(BaseModel):
        appid: int  # a GUID comes back: validation must fail here

    token: Token


def _echo(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    return secret_config(manifest, RelativePath="echo/items", **api)


def test_a_verb_returns_the_body_as_the_model(manifest: EmulatorManifest) -> None:
    with build(_echo(manifest), manifest) as services:
        echoed = services.downstream_api.post(API, json={"n": 1}, response_model=Echo)
    assert_type(echoed, Echo)
    assert isinstance(echoed, Echo)
    assert (echoed.method, echoed.path, echoed.body) == ("POST", "/echo/items", {"n": 1})
    assert echoed.token.scheme == "Bearer"
    assert echoed.token.appid == manifest.apps[0].client_id


def test_request_validates_any_type_pydantic_accepts(manifest: EmulatorManifest) -> None:
    with build(secret_config(manifest), manifest) as services:
        api = services.downstream_api
        whoami = api.request("GET", API, response_model=WhoAmI)
        raw = api.request("GET", API)
    assert_type(raw, DownstreamResponse)
    assert whoami == {"appid": manifest.apps[0].client_id, "scheme": "Bearer"}
    assert raw.json()["appid"] == whoami["appid"]


async def test_the_async_forms_return_the_model_too(manifest: EmulatorManifest) -> None:
    config = certificate_config(manifest, RelativePath="echo/items", ProtocolScheme="MTLS_POP")
    async with build(config, manifest) as services:
        api = services.downstream_api
        echoed = await api.put_async(API, json=[1, 2], response_model=Echo)
        summary = await api.request_async(None, API, response_model=dict[str, Any])
    assert_type(echoed, Echo)
    assert (echoed.method, echoed.body, echoed.token.bound) == ("PUT", [1, 2], True)
    assert summary["token"]["scheme"] == "mtls_pop"


def test_a_mismatch_names_the_api_and_the_field_and_no_value(manifest: EmulatorManifest) -> None:
    client_id = manifest.apps[0].client_id
    with (
        build(_echo(manifest), manifest) as services,
        pytest.raises(ResponseValidationError) as caught,
    ):
        services.downstream_api.get(API, response_model=Strict)
    error = caught.value
    assert isinstance(error, IdentityWebError)
    assert error.api == API
    assert [path for path, _ in error.problems] == ["token.appid"]
    message = str(error)
    assert f"{API!r}" in message
    assert "token.appid" in message
    assert "Strict" in message
    for leaked in (client_id, "eyJ", str(manifest.apps[0].client_secret)):
        assert leaked not in message
        assert leaked not in repr(error.args)
    assert error.__cause__ is None
    assert error.__suppress_context__


async def test_an_async_mismatch_raises_the_same_error(manifest: EmulatorManifest) -> None:
    async with build(_echo(manifest), manifest) as services:
        with pytest.raises(ResponseValidationError, match=r"token\.appid"):
            await services.downstream_api.get_async(API, response_model=Strict)


@dataclass
class Item:
    name: str
    price: float


def _json(status: int, body: bytes) -> DownstreamResponse:
    headers = {"content-type": "application/json"}
    return DownstreamResponse(status=status, headers=headers, body=body, url="https://h/p?sig=s")


def test_a_list_of_dataclasses_reports_the_index_of_the_bad_item() -> None:
    good = _json(200, b'[{"name": "a", "price": 1.5}]')
    assert read_model(good, list[Item], api="shop") == [Item("a", 1.5)]
    bad = _json(200, b'[{"name": "a", "price": 1}, {"name": "b", "price": "cheap"}]')
    with pytest.raises(ResponseValidationError) as caught:
        read_model(bad, list[Item], api="shop")
    assert [path for path, _ in caught.value.problems] == ["1.price"]
    assert "cheap" not in str(caught.value)
    assert "sig=s" not in str(caught.value)  # the query of the URL is left out


def test_a_non_success_answer_is_a_downstream_error_not_a_validation_error() -> None:
    with pytest.raises(DownstreamApiError) as caught:
        read_model(_json(404, b'{"error": "gone"}'), Item, api="shop")
    assert not isinstance(caught.value, ResponseValidationError)
    assert caught.value.status == 404
