"""ASGI middleware: every HTTP request needs a valid token before it reaches the app.

    app = WebApiMiddleware(app, ProtectedWebApi.from_settings(), exempt_paths={"/health"})

The validated token is stored in the request scope's `state` (Starlette and FastAPI:
`request.state.identity_web_token`; anywhere: `validated_token(scope)`). A refusal is answered
by the middleware itself (401/403/503, JSON body, `WWW-Authenticate`), never by a traceback.
The client certificate is read from the ASGI TLS extension, or from the trusted proxy header.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

from identity_web.resource._api import ProtectedWebApi
from identity_web.resource._errors import TokenValidationError
from identity_web.resource._token import ValidatedToken

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

STATE_KEY = "identity_web_token"


def authorization_header(scope: Scope) -> str | None:
    """The request's `Authorization` header, or None."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"authorization":
            return bytes(value).decode("latin-1")
    return None


async def authenticate_scope(api: ProtectedWebApi, scope: Scope) -> ValidatedToken:
    """Validate the request of an ASGI HTTP `scope`. Raises `TokenValidationError`."""
    thumbprint = api.certificates.from_asgi(scope)
    return await api.authenticate_async(authorization_header(scope), thumbprint)


def validated_token(scope: Scope) -> ValidatedToken | None:
    """The token the middleware validated for this request, if any."""
    token = (scope.get("state") or {}).get(STATE_KEY)
    return token if isinstance(token, ValidatedToken) else None


async def send_refusal(send: Send, error: TokenValidationError) -> None:
    """Answer a refused request."""
    response = ProtectedWebApi.error_response(error)
    headers = [
        (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers.items()
    ]
    headers.append((b"content-length", str(len(response.body)).encode("ascii")))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


class WebApiMiddleware:
    """Validates every HTTP request (except `exempt_paths`) before the wrapped app sees it."""

    def __init__(
        self, app: ASGIApp, api: ProtectedWebApi, *, exempt_paths: Collection[str] = ()
    ) -> None:
        self.app = app
        self.api = api
        self.exempt_paths = frozenset(exempt_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        try:
            token = await authenticate_scope(self.api, scope)
        except TokenValidationError as error:
            await send_refusal(send, error)
            return
        scope.setdefault("state", {})[STATE_KEY] = token
        await self.app(scope, receive, send)


__all__ = [
    "STATE_KEY",
    "WebApiMiddleware",
    "authenticate_scope",
    "authorization_header",
    "validated_token",
]
