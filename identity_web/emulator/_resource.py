"""The protected resource API: validates tokens with `identity_web.resource`, as users' APIs do.

- Signature through the published JWKS, issuer, audience (the demo resource's `api://<id>` or
  bare `<id>`; `/secrets/…` also accepts `https://vault.azure.net`), `exp`/`nbf` (no skew).
- A token with `cnf.x5t#S256` needs the `mtls_pop` scheme and the TLS client certificate with
  that thumbprint; a token without `cnf` is refused under the `mtls_pop` scheme. Fail closed:
  401 with `WWW-Authenticate: <scheme> error="invalid_token", error_description="…"`.
  Bearer and bound tokens are both accepted, and app tokens need no roles.
- `GET /secrets/{name}` (Key Vault-like) also needs `x-ms-tokenboundauth: true` for bound tokens.
- `GET /whoami` answers the validated claims summary; any other path echoes the request.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from identity_web.emulator._demo_tenant import demo_resource
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._validation import resource_validator
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse
from identity_web.protocol._binding import x5t_s256
from identity_web.resource import JwksSigningKeys, ProtectedWebApi, TokenValidationError
from identity_web.resource._validator import BOUND_WITHOUT_CERTIFICATE

KEY_VAULT_AUDIENCE = "https://vault.azure.net"
_SECRET = re.compile(r"^/secrets/(?P<name>[^/]+)/?(?P<version>[^/]*)/?$")


class UnauthorizedError(Exception):
    def __init__(self, scheme: str, description: str) -> None:
        self.scheme = scheme
        self.description = description
        super().__init__(description)

    def response(self) -> EmulatorResponse:
        challenge = f'{self.scheme} error="invalid_token", error_description="{self.description}"'
        body = {"error": {"code": "Unauthorized", "message": self.description}}
        return EmulatorResponse.json(401, body, {"WWW-Authenticate": challenge})


@dataclass(frozen=True, slots=True)
class CallerInfo:
    claims: Mapping[str, Any]
    scheme: str
    client_cert_x5t_s256: str | None

    @property
    def cnf_x5t_s256(self) -> str | None:
        cnf = self.claims.get("cnf")
        value = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
        return value if isinstance(value, str) else None

    def summary(self) -> dict[str, Any]:
        claims = self.claims
        return {
            **{k: claims.get(k) for k in ("aud", "appid", "azp", "tid", "oid", "idtyp")},
            "appidacr": claims.get("appidacr"),
            "cnf_x5t_s256": self.cnf_x5t_s256,
            "client_cert_x5t_s256": self.client_cert_x5t_s256,
            "token_type": self.scheme,
            "scheme": self.scheme,
            "bound": self.cnf_x5t_s256 is not None,
        }


class ResourceService:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._keys = JwksSigningKeys(state.signing.jwks)

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        return self._state.serve("resource", request, self._handle)

    def _handle(self, request: EmulatorRequest) -> EmulatorResponse:
        secret = _SECRET.match(request.path)
        try:
            caller = self._authorize(request, key_vault=secret is not None)
        except UnauthorizedError as failure:
            return failure.response()
        if secret and request.method == "GET":
            return self._secret(secret["name"], secret["version"])
        if request.path.rstrip("/") == "/whoami":
            return EmulatorResponse.json(200, caller.summary())
        return EmulatorResponse.json(200, _echo(request, caller))

    def _authorize(self, request: EmulatorRequest, *, key_vault: bool) -> CallerInfo:
        state = self._state
        validator = resource_validator(
            self._keys, state.issuer, self._audiences(key_vault), state.clock.now
        )
        cert = request.client_cert_der
        thumbprint = x5t_s256(cert) if cert else None
        try:
            token = ProtectedWebApi(validator).authenticate(
                request.header("authorization"), thumbprint
            )
        except TokenValidationError as error:
            raise UnauthorizedError(error.scheme, error.description) from None
        if token.bound and key_vault and request.header("x-ms-tokenboundauth").lower() != "true":
            raise UnauthorizedError("mtls_pop", BOUND_WITHOUT_CERTIFICATE)
        return CallerInfo(token.claims, str(token.scheme), thumbprint)

    def _audiences(self, key_vault: bool) -> list[str]:
        resource = demo_resource(self._state)
        audiences = [*resource.identifier_uris, resource.app_id]
        return [*audiences, KEY_VAULT_AUDIENCE] if key_vault else audiences

    def _secret(self, name: str, version: str) -> EmulatorResponse:
        version = version or secrets.token_hex(16)
        base = self._state.urls.resource_base
        return EmulatorResponse.json(
            200,
            {
                "value": f"emulated-secret-value-of-{name}",
                "id": f"{base}secrets/{name}/{version}",
                "attributes": {"enabled": True},
            },
        )


def _echo(request: EmulatorRequest, caller: CallerInfo) -> dict[str, Any]:
    headers = {k: v for k, v in request.headers.items() if k != "authorization"}
    return {
        "method": request.method,
        "path": request.path,
        "query": dict(request.query),
        "headers": headers,
        "body": _body(request),
        "token": caller.summary(),
    }


def _body(request: EmulatorRequest) -> Any:
    if not request.body:
        return None
    text = request.body.decode("utf-8", errors="replace")
    if "json" in request.header("content-type").lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text
