"""Flask: an extension with a decorator; the view reads the `ValidatedToken` from `flask.g`.

    api = FlaskWebApi(ProtectedWebApi.from_settings(), app)

    @app.get("/items")
    @api.require_auth(scopes=["Items.Read"])
    def items():
        token = api.current_token()

The client certificate comes from WSGI's `SSL_CLIENT_CERT` (Werkzeug's TLS server, Apache
mod_wsgi, gunicorn behind nginx …) or from the trusted proxy header. Refusals are answered with
JSON, 401/403/503 and `WWW-Authenticate`. Install with `pip install identity-web[flask]`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from flask import Flask, Response, g, request

from identity_web.resource._api import ProtectedWebApi
from identity_web.resource._errors import TokenValidationError
from identity_web.resource._token import ValidatedToken

View = TypeVar("View", bound=Callable[..., Any])
EXTENSION = "identity_web"
_G_KEY = "identity_web_token"


class FlaskWebApi:
    """Flask extension: `init_app(app)`, then `@require_auth(...)` on the protected views."""

    def __init__(self, api: ProtectedWebApi, app: Flask | None = None) -> None:
        self.api = api
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        app.extensions[EXTENSION] = self

    def require_auth(
        self, *, scopes: Sequence[str] = (), roles: Sequence[str] = ()
    ) -> Callable[[View], View]:
        """Decorate a view: it runs only for a valid token with one of `scopes` / `roles`."""

        def decorate(view: View) -> View:
            @functools.wraps(view)
            def protected(*args: Any, **kwargs: Any) -> Any:
                try:
                    token = self.authenticate_request()
                    self.api.authorize(token, scopes=scopes, roles=roles)
                except TokenValidationError as error:
                    return refusal(error)
                setattr(g, _G_KEY, token)
                return view(*args, **kwargs)

            return cast(View, protected)

        return decorate

    def authenticate_request(self) -> ValidatedToken:
        """Validate the current request. Raises `TokenValidationError`."""
        thumbprint = self.api.certificates.from_wsgi(request.environ)
        return self.api.authenticate(request.headers.get("Authorization"), thumbprint)

    @staticmethod
    def current_token() -> ValidatedToken:
        """The token `require_auth` validated for the current request."""
        token = g.get(_G_KEY)
        if not isinstance(token, ValidatedToken):
            raise RuntimeError("current_token() is only available in a view under require_auth")
        return token


def refusal(error: TokenValidationError) -> Response:
    """The Flask response answering a refused request."""
    answer = ProtectedWebApi.error_response(error)
    return Response(answer.body, status=answer.status, headers=dict(answer.headers))


__all__ = ["FlaskWebApi", "refusal"]
