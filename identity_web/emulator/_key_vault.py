"""An emulated Azure Key Vault: the secret routes a certificate loader needs, over TLS.

`GET /secrets/{name}[/{version}]?api-version=…` answers Key Vault's secret bundle (`value`,
`contentType`, `id`, `kid`, `attributes`); without a version, the latest one. Tokens are checked
as the vault checks them: a `Bearer` token signed by the emulator, for the tenant's issuer, with
the audience `https://vault.azure.net` (AKV10022 otherwise), within its lifetime. Errors have
Key Vault's shape, `{"error": {"code": …, "message": …}}`, and a 401 carries the challenge
`Bearer authorization="…", resource="https://vault.azure.net"`.

Certificates are put in with `state.key_vault.set_certificate(name, credential)` (each call makes a
new version, as importing a certificate does), which is how tests rotate them.
"""

from __future__ import annotations

import re

from identity_web.emulator import _hosts as hosts
from identity_web.emulator import _jwt
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._validation import InvalidTokenError, JwksValidator
from identity_web.emulator._vault_store import VaultSecret
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse

ENDPOINT = "keyvault.secrets"
AUDIENCE = "https://vault.azure.net"
#: The api-versions of the Key Vault data plane the emulator accepts.
API_VERSIONS = ("2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5")
_SECRET = re.compile(r"^/secrets/(?P<name>[0-9A-Za-z-]{1,127})(?:/(?P<version>[0-9a-f]{32}))?/?$")
_NOT_FOUND_HELP = (
    "If you recently deleted this secret you may be able to recover it using the correct "
    "recovery command. For help resolving this issue, please see "
    "https://go.microsoft.com/fwlink/?linkid=2125182"
)


class KeyVaultService:
    """The vault's data plane (secrets only)."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._tokens = JwksValidator(state.signing.jwks, lambda: state.issuer)

    def handle(self, request: EmulatorRequest) -> EmulatorResponse:
        return self._state.serve(ENDPOINT, request, self._handle)

    def _handle(self, request: EmulatorRequest) -> EmulatorResponse:
        route = _SECRET.match(request.path)
        if request.method != "GET" or route is None:
            return _error(404, "NotFound", "the emulated vault serves GET /secrets/{name} only")
        version = request.query.get("api-version", "")
        if version not in API_VERSIONS:
            found = f"'{version}'" if version else "none"
            return _error(
                400,
                "BadParameter",
                f"The specified version ({found}) is not recognized. Consider using the latest "
                f"supported version ({API_VERSIONS[-1]}).",
            )
        refused = self._refusal(request)
        if refused is not None:
            return refused
        secret = self._state.key_vault.get(route["name"], route["version"])
        if secret is None:
            what = "/".join(p for p in (route["name"], route["version"]) if p)
            return _error(
                404,
                "SecretNotFound",
                f"A secret with (name/id) {what} was not found in this key vault. "
                + _NOT_FOUND_HELP,
            )
        return EmulatorResponse.json(200, self._bundle(request, secret))

    def _refusal(self, request: EmulatorRequest) -> EmulatorResponse | None:
        scheme, _, token = request.header("authorization").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        try:
            audience = _jwt.decode(token.strip()).claims.get("aud")
        except _jwt.JwtError:
            return self._unauthorized("AKV10000: Request is missing a Bearer or PoP token.")
        if str(audience).rstrip("/") != AUDIENCE:
            return self._unauthorized(
                f"AKV10022: Invalid audience. Expected {AUDIENCE}, found: {audience}."
            )
        try:
            self._tokens.validate(token.strip(), audiences=[AUDIENCE], now=self._state.clock.now())
        except InvalidTokenError as error:
            return self._unauthorized(f"Invalid token: {error.reason}")
        return None

    def _unauthorized(self, message: str) -> EmulatorResponse:
        authority = f"{self._state.urls.login_base}{self._state.tenant_id}"
        challenge = f'Bearer authorization="{authority}", resource="{AUDIENCE}"'
        return _error(401, "Unauthorized", message, {"WWW-Authenticate": challenge})

    def _bundle(self, request: EmulatorRequest, secret: VaultSecret) -> dict[str, object]:
        base = _vault_base(request, self._state.urls.key_vault_base)
        created = secret.created or int(self._state.clock.now())
        return {
            "value": secret.value,
            "contentType": secret.content_type,
            "id": f"{base}secrets/{secret.name}/{secret.version}",
            "kid": f"{base}keys/{secret.name}/{secret.version}",
            "managed": True,
            "attributes": {
                "enabled": True,
                "created": created,
                "updated": created,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
        }


def _vault_base(request: EmulatorRequest, loopback: str) -> str:
    """`https://{vault}.vault.azure.net/` when addressed by a vault name, else the loopback URL."""
    name = hosts.host_name(request.host)
    return f"https://{name}/" if name.endswith(hosts.VAULT_SUFFIX) else loopback


def _error(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> EmulatorResponse:
    return EmulatorResponse.json(status, {"error": {"code": code, "message": message}}, headers)
