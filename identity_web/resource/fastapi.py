"""FastAPI (and Starlette) dependencies: the handler gets the `ValidatedToken`.

    auth = WebApiAuth(ProtectedWebApi.from_settings())

    @app.get("/items")
    async def items(token: ValidatedToken = Depends(auth.require_scopes("Items.Read"))): ...

`Depends(auth)` only validates; `require_scopes` / `require_roles` also demand one of the
given scopes or app roles (403 `insufficient_scope`). Refusals become `HTTPException`s with the
`WWW-Authenticate` challenge. Behind `WebApiMiddleware` the token it validated is reused.
Install with `pip install identity-web[fastapi]`.
"""

# No `from __future__ import annotations`: FastAPI reads the dependencies' annotations at run
# time, and a callable instance has no module globals to resolve string annotations with.

import json
from collections.abc import Awaitable, Callable, Sequence

from fastapi import HTTPException, Request

from identity_web.resource._api import ProtectedWebApi
from identity_web.resource._errors import TokenValidationError
from identity_web.resource._token import ValidatedToken
from identity_web.resource.asgi import authenticate_scope, validated_token

Dependency = Callable[[Request], Awaitable[ValidatedToken]]


class WebApiAuth:
    """A FastAPI dependency validating the request's token (and client certificate)."""

    def __init__(self, api: ProtectedWebApi) -> None:
        self.api = api

    async def __call__(self, request: Request) -> ValidatedToken:
        return await self._authorized(request, (), ())

    def require_scopes(self, *scopes: str) -> Dependency:
        """A dependency that also demands one of `scopes` in `scp`."""
        return self._requiring(scopes, ())

    def require_roles(self, *roles: str) -> Dependency:
        """A dependency that also demands one of `roles` in `roles`."""
        return self._requiring((), roles)

    def _requiring(self, scopes: Sequence[str], roles: Sequence[str]) -> Dependency:
        async def dependency(request: Request) -> ValidatedToken:
            return await self._authorized(request, scopes, roles)

        return dependency

    async def _authorized(
        self, request: Request, scopes: Sequence[str], roles: Sequence[str]
    ) -> ValidatedToken:
        try:
            token = validated_token(request.scope) or await authenticate_scope(
                self.api, request.scope
            )
            self.api.authorize(token, scopes=scopes, roles=roles)
        except TokenValidationError as error:
            raise as_http_exception(error) from None
        return token


def as_http_exception(error: TokenValidationError) -> HTTPException:
    """The refusal as FastAPI's exception; body `{"detail": {"error", "error_description"}}`."""
    response = ProtectedWebApi.error_response(error)
    headers = {k: v for k, v in response.headers.items() if k != "Content-Type"}
    return HTTPException(response.status, detail=json.loads(response.body), headers=headers)


__all__ = ["WebApiAuth", "as_http_exception"]
