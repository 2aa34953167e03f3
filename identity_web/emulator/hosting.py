"""Emulated managed identity endpoints of Azure hosting environments (wire-protocol §4.4).

Each is a `Service` for its own loopback listener; `environment(base_url)` returns the
variables the hosting platform would set for a client process:

- `AppServiceService` (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`): GET with `X-IDENTITY-HEADER`,
  api-version 2019-08-01.
- `ArcService` (`IDENTITY_ENDPOINT`, `IMDS_ENDPOINT`): GET → 401 `Basic realm=<key file>` → GET
  with `Authorization: Basic <file contents>`.
- `CloudShellService` (`MSI_ENDPOINT`): POST form `resource=…`, `Metadata: true`.
- `ServiceFabricService` (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`, `IDENTITY_SERVER_THUMBPRINT`):
  GET over TLS with the `secret` header; the client pins the server certificate.
- `MachineLearningService` (`MSI_ENDPOINT`, `MSI_SECRET`): GET with `secret` and `clientid`.

Requests go through `state.serve(<name>.token, ...)`: faults can be scripted and every request is
logged, with secret headers masked.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import tempfile
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from identity_web.emulator._directory import ManagedIdentity
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse
from identity_web.emulator.imds import token_body

TOKEN_PATH = "/msi/token"

#: What App Service, Arc, Cloud Shell, Service Fabric and Azure ML return of a token.
_HOSTING_FIELDS = ("access_token", "expires_on", "resource", "token_type", "client_id")


class HostedIdentityService:
    """Shared token minting; subclasses check the platform's request shape."""

    endpoint_name = "hosting.token"
    supports_user_assigned = True
    resource_id_parameter = "mi_res_id"

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        return self.state.serve(self.endpoint_name, request, self._answer)

    def environment(self, base_url: str) -> dict[str, str]:
        """The variables the platform sets for a client of the endpoint at `base_url`."""
        raise NotImplementedError

    def _answer(self, request: EmulatorRequest) -> EmulatorResponse:
        raise NotImplementedError

    def _identity(self, selectors: dict[str, str]) -> ManagedIdentity | None:
        return self.state.find_managed_identity(
            client_id=selectors.get("client_id") or selectors.get("clientid") or None,
            object_id=selectors.get("object_id") or None,
            resource_id=selectors.get(self.resource_id_parameter) or None,
        )

    def _token(self, fields: dict[str, str], resource: str) -> dict[str, Any] | EmulatorResponse:
        """The token fields for the selected identity, or the error answer."""
        selectors = {k: v for k, v in fields.items() if k in _SELECTORS and v}
        if selectors and not self.supports_user_assigned:
            return self._error(400, "User-assigned managed identities are not supported here.")
        identity = self._identity(selectors)
        if identity is None:
            return self._error(400, "No managed identity matches the request.")
        if not resource or self.state.resources.find(resource) is None:
            return self._error(
                400, f"AADSTS500011: The resource principal {resource} was not found."
            )
        body = token_body(self.state, identity, resource)  # the hosting shapes send fewer fields
        return {name: body[name] for name in _HOSTING_FIELDS}

    def _error(self, status: int, message: str) -> EmulatorResponse:
        return EmulatorResponse.json(status, {"error": {"code": "BadRequest", "message": message}})

    def _respond(self, fields: dict[str, str], resource: str) -> EmulatorResponse:
        token = self._token(fields, resource)
        if isinstance(token, EmulatorResponse):
            return token
        return EmulatorResponse.json(200, token)


_SELECTORS = frozenset({"client_id", "clientid", "object_id", "mi_res_id", "msi_res_id"})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


class AppServiceService(HostedIdentityService):
    """App Service / Functions (api-version 2019-08-01, `X-IDENTITY-HEADER`)."""

    endpoint_name = "appservice.token"

    def __init__(self, state: EmulatorState, *, secret: str | None = None) -> None:
        super().__init__(state)
        self.secret = secret or secrets.token_urlsafe(24)

    def environment(self, base_url: str) -> dict[str, str]:
        return {
            "IDENTITY_ENDPOINT": base_url.rstrip("/") + TOKEN_PATH,
            "IDENTITY_HEADER": self.secret,
        }

    def _answer(self, request: EmulatorRequest) -> EmulatorResponse:
        if not _same(request.header("x-identity-header"), self.secret):
            return self._error(400, "The X-IDENTITY-HEADER header is missing or wrong.")
        if request.query.get("api-version") != "2019-08-01":
            return self._error(400, "api-version must be 2019-08-01.")
        return self._respond(dict(request.query), request.query.get("resource", ""))

    def _error(self, status: int, message: str) -> EmulatorResponse:
        return EmulatorResponse.json(
            status, {"statusCode": status, "message": message, "correlationId": str(uuid.uuid4())}
        )


class ArcService(HostedIdentityService):
    """The Azure Arc agent (himds): a 401 challenge naming a key file, then Basic auth.

    Key files are written (mode 0600) into `key_directory`, which stands for
    `/var/opt/azcmagent/tokens`; clients must be told to accept that directory.
    """

    endpoint_name = "arc.token"
    supports_user_assigned = False

    def __init__(self, state: EmulatorState, *, key_directory: Path | None = None) -> None:
        super().__init__(state)
        if key_directory is None:
            key_directory = Path(tempfile.mkdtemp(prefix="identity-web-arc-"))
            weakref.finalize(self, shutil.rmtree, key_directory, ignore_errors=True)
        self.key_directory = key_directory
        self._issued: dict[str, Path] = {}
        self._lock = threading.Lock()

    def environment(self, base_url: str) -> dict[str, str]:
        base = base_url.rstrip("/")
        return {
            "IDENTITY_ENDPOINT": base + "/metadata/identity/oauth2/token",
            "IMDS_ENDPOINT": base,
        }

    def _answer(self, request: EmulatorRequest) -> EmulatorResponse:
        if request.header("metadata").lower() != "true":
            return self._error(400, "Required metadata header not specified")
        if request.query.get("api-version") != "2020-06-01":
            return self._error(400, "api-version must be 2020-06-01.")
        scheme, _, secret = request.header("authorization").partition(" ")
        if scheme.lower() != "basic" or not self._consume(secret.strip()):
            return self._challenge()
        return self._respond(dict(request.query), request.query.get("resource", ""))

    def _challenge(self) -> EmulatorResponse:
        secret = secrets.token_urlsafe(32)
        path = self.key_directory / f"{uuid.uuid4()}.key"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secret)
        with self._lock:
            self._issued[secret] = path
        return EmulatorResponse.json(
            401,
            {"error": "unauthorized", "error_description": "Basic authentication required"},
            {"WWW-Authenticate": f"Basic realm={path}"},
        )

    def _consume(self, secret: str) -> bool:
        """True for a secret this agent wrote; each key file answers one challenge."""
        with self._lock:
            path = self._issued.pop(secret, None)
        if path is None:
            return False
        path.unlink(missing_ok=True)
        return True


class CloudShellService(HostedIdentityService):
    """Cloud Shell: POST with a form body `resource=…`, system-assigned only."""

    endpoint_name = "cloudshell.token"
    supports_user_assigned = False

    def environment(self, base_url: str) -> dict[str, str]:
        return {"MSI_ENDPOINT": base_url.rstrip("/") + "/oauth2/token"}

    def _answer(self, request: EmulatorRequest) -> EmulatorResponse:
        if request.method.upper() != "POST" or request.header("metadata").lower() != "true":
            return self._error(400, "POST with 'Metadata: true' required")
        form = request.form()
        return self._respond(form, form.get("resource", ""))

    def _error(self, status: int, message: str) -> EmulatorResponse:
        return EmulatorResponse.json(
            status, {"error": {"code": "AudienceNotSupported", "message": message}}
        )


class ServiceFabricService(HostedIdentityService):
    """Service Fabric: served over TLS; the client pins the server certificate's SHA-1."""

    endpoint_name = "servicefabric.token"
    supports_user_assigned = False

    def __init__(self, state: EmulatorState, *, secret: str | None = None) -> None:
        super().__init__(state)
        self.secret = secret or secrets.token_urlsafe(24)

    def environment(self, base_url: str) -> dict[str, str]:
        der = self.state.server_certificate.public_bytes(serialization.Encoding.DER)
        return {
            "IDENTITY_ENDPOINT": base_url.rstrip("/") + "/metadata/identity/oauth2/token",
            "IDENTITY_HEADER": self.secret,
            "IDENTITY_SERVER_THUMBPRINT": hashlib.sha1(der, usedforsecurity=False).hexdigest(),
        }

    def _answer(self, request: EmulatorRequest) -> EmulatorResponse:
        if not _same(request.header("secret"), self.secret):
            return EmulatorResponse.json(
                401, {"error": {"code": "SecretHeaderNotFound", "message": "Secret is missing"}}
            )
        return self._respond(dict(request.query), request.query.get("resource", ""))


class MachineLearningService(HostedIdentityService):
    """Azure Machine Learning (api-version 2017-09-01, `secret` header, `clientid`)."""

    endpoint_name = "machinelearning.token"

    def __init__(self, state: EmulatorState, *, secret: str | None = None) -> None:
        super().__init__(state)
        self.secret = secret or secrets.token_urlsafe(24)

    def environment(self, base_url: str) -> dict[str, str]:
        system = self.state.find_managed_identity()
        return {
            "MSI_ENDPOINT": base_url.rstrip("/") + TOKEN_PATH,
            "MSI_SECRET": self.secret,
            "DEFAULT_IDENTITY_CLIENT_ID": system.client_id if system else "",
        }

    def _answer(self, request: EmulatorRequest) -> EmulatorResponse:
        if not _same(request.header("secret"), self.secret):
            return self._error(401, "The secret header is missing or wrong.")
        return self._respond(dict(request.query), request.query.get("resource", ""))
