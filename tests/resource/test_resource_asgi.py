"""The ASGI middleware and the FastAPI dependency, driven as an ASGI server drives them."""

from __future__ import annotations

import json
import ssl
from typing import Any

from fastapi import Depends, FastAPI, Request
from resource_helpers import certificate, claims, mint, protected_api

from identity_web.resource import ValidatedToken
from identity_web.resource.asgi import WebApiMiddleware, validated_token
from identity_web.resource.fastapi import WebApiAuth


def _scope(path: str, authorization: str | None, cert_der: bytes | None = None) -> dict[str, Any]:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    scope: dict[str, Any] = {
        "type": "http",
        "method": "GET",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": headers,
        "scheme": "https",
        "server": ("127.0.0.1", 443),
        "client": ("127.0.0.1", 5000),
        "http_version": "1.1",
        "root_path": "",
        "asgi": {"version": "3.0"},
    }
    if cert_der is not None:
        pem = ssl.DER_cert_to_PEM_cert(cert_der)
        scope["extensions"] = {"tls": {"client_cert_chain": [pem]}}
    return scope


async def _call(app: Any, scope: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    headers = {k.decode(): v.decode() for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], headers, body


async def _echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    token = validated_token(scope)
    body = json.dumps({"app_id": token.app_id if token else None}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def test_the_middleware_passes_valid_requests_with_the_token_in_scope_state() -> None:
    app = WebApiMiddleware(_echo_app, protected_api())
    status, _, body = await _call(app, _scope("/items", f"Bearer {mint(claims())}"))
    assert status == 200
    assert json.loads(body)["app_id"]


async def test_the_middleware_answers_refusals_itself() -> None:
    app = WebApiMiddleware(_echo_app, protected_api(), exempt_paths={"/health"})
    status, headers, body = await _call(app, _scope("/items", None))
    assert status == 401
    assert headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert json.loads(body)["error"] == "invalid_token"
    assert (await _call(app, _scope("/health", None)))[0] == 200


async def test_the_middleware_checks_the_tls_client_certificate() -> None:
    der, thumbprint = certificate()
    other, _ = certificate("other")
    token = mint(claims(cnf={"x5t#S256": thumbprint}))
    app = WebApiMiddleware(_echo_app, protected_api())
    assert (await _call(app, _scope("/x", f"mtls_pop {token}", der)))[0] == 200
    status, headers, _ = await _call(app, _scope("/x", f"mtls_pop {token}", other))
    assert status == 401
    assert "does not match" in headers["www-authenticate"]


def _fastapi_app() -> FastAPI:
    api = protected_api()
    auth = WebApiAuth(api)
    app = FastAPI()
    writer = Depends(auth.require_scopes("Items.Write"))

    @app.get("/read")
    async def read(token: ValidatedToken = Depends(auth)) -> dict[str, Any]:  # noqa: B008
        return {"scopes": sorted(token.scopes)}

    @app.get("/write")
    async def write(request: Request, token: ValidatedToken = writer) -> dict[str, Any]:
        return {"reused": request.state.identity_web_token is token}

    return app


async def test_the_fastapi_dependency_validates_and_checks_scopes() -> None:
    app = _fastapi_app()
    status, _, body = await _call(app, _scope("/read", f"Bearer {mint(claims())}"))
    assert (status, json.loads(body)) == (200, {"scopes": ["Items.Read"]})
    status, headers, body = await _call(app, _scope("/write", f"Bearer {mint(claims())}"))
    assert status == 403
    assert headers["www-authenticate"].startswith('Bearer error="insufficient_scope"')
    assert json.loads(body)["detail"]["error"] == "insufficient_scope"
    status, headers, _ = await _call(app, _scope("/read", "Bearer nope"))
    assert status == 401


async def test_behind_the_middleware_the_dependency_reuses_its_token() -> None:
    app = WebApiMiddleware(_fastapi_app(), protected_api())
    token = mint(claims(scp="Items.Write"))
    status, _, body = await _call(app, _scope("/write", f"Bearer {token}"))
    assert (status, json.loads(body)) == (200, {"reused": True})
