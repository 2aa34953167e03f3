"""`EmulatorState`: everything the emulated hosts share. This is the API services build on.

Services (login, mtlsauth, resource, admin, IMDS, App Service, Arc …) receive one
`EmulatorState` and read or change it; it is thread-safe where it is mutable.

- `tenant_id`, `tenant_domain`; `urls` (`EndpointUrls`: `login_base`, `mtls_base`,
  `resource_base`, `imds_base`, `admin_url`, filled in once the listeners are bound) and the
  derived `issuer`, `token_endpoint`, `mtls_token_endpoint`, `mtls_authentication_endpoint`.
- `signing` (`SigningKey`: RSA key, `kid`, `jwks()`), `mint_access_token(...)`.
- `ca` (`CertificateAuthority` of the TLS hosts, also the issuer of the demo apps' client
  certificates) and `imds_issuer` (a separate CA for IMDS v2 binding certificates, whose
  subject is `CN=<managed identity client id>`). `CertificateAuthority.issue(public_key,
  subject, *, days, client_auth=True, server_auth=False, san=None, not_before=None)`.
- `server_certificate` (loopback names), `login_certificate`, `mtls_certificate` and
  `vault_certificate` (also the production names of `_hosts`), all over `server_key`: the TLS
  listeners' certificates.
- `key_vault: KeyVaultStore` (`set_certificate(name, credential, content_type=…)` adds a
  version, `get(name, version)`): what the emulated Key Vault serves.
- `apps: list[AppRegistration]`, `find_app(client_id)`, `register_app(app)`,
  `add_app_certificate(client_id, certificate)` (new certificates become TLS trust anchors).
- `managed_identities: list[ManagedIdentity]`, `find_managed_identity(client_id=,
  object_id=, resource_id=)` (all None → the system-assigned identity).
- `resources: ResourceRegistry` (`find(audience)`, `add`, `set_bound_tokens_enabled`).
- `request_log: RequestLog` (`record(endpoint, request, status)`, `entries()`, `clear()`).
- `fault_endpoints: set[str]`: endpoint names the admin API accepts for faults (the CONTRACTS
  names, plus every name ever passed to `serve`; add yours at construction time).
- `faults: FaultPlan` (`take(endpoint) -> EmulatorResponse | None`; `take` sleeps the
  scripted `delay_ms` itself, so callers only check for None; `next(endpoint)` gives the
  scripted entry itself, transport fault included).
- `serve(endpoint, request, handler)`: the usual way a service answers one request — the next
  scripted fault for `endpoint` if any, else `handler(request)`; either way it is logged.
- `clock: EmulatorClock` (`now()`, `shift(seconds)`, `reset()`): the time every token,
  assertion check and log entry uses. TLS certificates use the real time.
- `config: EmulatorConfig`.

`identity_web.emulator._demo_tenant.build_default_state(config)` returns a populated state
(demo app, managed identities, resources) without starting any listener — handy in unit tests.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web.emulator import _hosts as hosts
from identity_web.emulator import _jwt
from identity_web.emulator._attestation import AttestationAuthority, AttestationMode, rsa_jwk
from identity_web.emulator._config import EmulatorConfig
from identity_web.emulator._directory import (
    AppRegistration,
    ManagedIdentity,
    ResourceRegistry,
    default_resources,
    new_guid,
)
from identity_web.emulator._pki import CertificateAuthority, loopback_san, name, new_rsa_key
from identity_web.emulator._recording import ENDPOINTS, FaultPlan, RequestLog
from identity_web.emulator._vault_store import KeyVaultStore
from identity_web.emulator._wire import EmulatorRequest, EmulatorResponse
from identity_web.protocol._binding import BindingCertificate, b64url


class EmulatorClock:
    """Real time plus an offset that tests may shift (e.g. to expire tokens)."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0

    def now(self) -> float:
        return self._source() + self._offset

    def shift(self, seconds: float) -> None:
        self._offset += seconds

    def reset(self) -> None:
        self._offset = 0.0


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The token-signing key; the public half is published as a JWKS."""

    key: rsa.RSAPrivateKey = field(repr=False)
    kid: str

    @classmethod
    def create(cls) -> SigningKey:
        return cls(new_rsa_key(), b64url(uuid.uuid4().bytes))

    def jwk(self) -> dict[str, Any]:
        return {**rsa_jwk(self.key.public_key()), "use": "sig", "alg": "RS256", "kid": self.kid}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.jwk()]}


@dataclass(slots=True)
class EndpointUrls:
    """Base URLs of the listeners (trailing slash on HTTPS bases; none on `imds_base`)."""

    login_base: str = ""
    mtls_base: str = ""
    resource_base: str = ""
    imds_base: str = ""
    admin_url: str = ""
    key_vault_base: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class EmulatorState:
    """The tenant, keys, directory, log and faults shared by every emulated host."""

    def __init__(self, config: EmulatorConfig | None = None, *, clock: EmulatorClock | None = None):
        self.config = config or EmulatorConfig()
        self.clock = clock or EmulatorClock()
        self.tenant_id = self.config.tenant_id or new_guid()
        self.tenant_domain = self.config.tenant_domain
        self.urls = EndpointUrls()
        self.signing = SigningKey.create()
        self.ca = CertificateAuthority.create("identity-web emulator CA")
        self.imds_issuer = CertificateAuthority.create("identity-web emulator IMDS issuer")
        self.server_key = new_rsa_key()
        self.server_certificate = self._server_certificate()
        self.login_certificate = self._server_certificate(*hosts.login_names())
        self.mtls_certificate = self._server_certificate(*hosts.mtls_names())
        self.vault_certificate = self._server_certificate(*hosts.vault_names())
        self.key_vault = KeyVaultStore()
        self.apps: list[AppRegistration] = []
        self.app_credentials: dict[str, BindingCertificate] = {}
        self.managed_identities: list[ManagedIdentity] = []
        self.resources = ResourceRegistry()
        self.attestation = AttestationAuthority(self.clock.now)
        self.attestation_mode = AttestationMode(self.config.attestation_mode)
        self.request_log = RequestLog(self.clock.now)
        self.faults = FaultPlan()
        self.fault_endpoints: set[str] = set(ENDPOINTS)
        self._lock = threading.RLock()
        self._trust_listeners: list[Callable[[x509.Certificate], None]] = []

    def _server_certificate(self, *names: str) -> x509.Certificate:
        """A TLS server certificate (shared key) for the loopback names and `names`."""
        return self.ca.issue(
            self.server_key.public_key(),
            name(names[0] if names else "localhost"),
            days=30,
            client_auth=False,
            server_auth=True,
            san=loopback_san(*names),
        )

    # --- URLs -------------------------------------------------------------------------------

    @property
    def issuer(self) -> str:
        """`iss` of every token and the OpenID configuration's `issuer` (v2.0 form)."""
        return f"{self.urls.login_base}{self.tenant_id}/v2.0"

    @property
    def token_endpoint(self) -> str:
        return f"{self.urls.login_base}{self.tenant_id}/oauth2/v2.0/token"

    @property
    def mtls_token_endpoint(self) -> str:
        return f"{self.urls.mtls_base}{self.tenant_id}/oauth2/v2.0/token"

    @property
    def mtls_authentication_endpoint(self) -> str:
        """What IMDS v2 `issuecredential` returns: the mtlsauth base, no tenant, no slash."""
        return self.urls.mtls_base.rstrip("/")

    def is_tenant(self, tenant: str) -> bool:
        """True for this tenant's GUID or domain name (case-insensitive)."""
        return tenant.lower() in (self.tenant_id.lower(), self.tenant_domain.lower())

    # --- directory --------------------------------------------------------------------------

    def find_app(self, client_id: str) -> AppRegistration | None:
        wanted = client_id.lower()
        with self._lock:
            return next((a for a in self.apps if a.client_id.lower() == wanted), None)

    def register_app(self, app: AppRegistration) -> AppRegistration:
        with self._lock:
            self.apps.append(app)
        for certificate in app.certificates:
            self._announce_trust(certificate)
        return app

    def add_app_certificate(self, client_id: str, certificate: x509.Certificate) -> None:
        app = self.find_app(client_id)
        if app is None:
            raise KeyError(client_id)
        with self._lock:
            app.certificates.append(certificate)
        self._announce_trust(certificate)

    def add_trust_listener(self, listener: Callable[[x509.Certificate], None]) -> None:
        """`listener(cert)` is called for every certificate that must become a TLS trust anchor."""
        with self._lock:
            self._trust_listeners.append(listener)

    def _announce_trust(self, certificate: x509.Certificate) -> None:
        with self._lock:
            listeners = list(self._trust_listeners)
        for listener in listeners:
            listener(certificate)

    def find_managed_identity(
        self,
        *,
        client_id: str | None = None,
        object_id: str | None = None,
        resource_id: str | None = None,
    ) -> ManagedIdentity | None:
        """The identity matching the one given selector; no selector → the system-assigned one."""
        with self._lock:
            identities = list(self.managed_identities)
        if client_id is None and object_id is None and resource_id is None:
            return next((mi for mi in identities if mi.kind == "SystemAssigned"), None)
        for mi in identities:
            if client_id is not None and mi.client_id.lower() == client_id.lower():
                return mi
            if object_id is not None and mi.object_id.lower() == object_id.lower():
                return mi
            if resource_id is not None and mi.resource_id.lower() == resource_id.lower():
                return mi
        return None

    # --- serving ----------------------------------------------------------------------------

    def serve(
        self,
        endpoint: str,
        request: EmulatorRequest,
        handler: Callable[[EmulatorRequest], EmulatorResponse],
    ) -> EmulatorResponse:
        """Answer with the next scripted fault for `endpoint`, else `handler(request)`; log it."""
        self.fault_endpoints.add(endpoint)
        scripted = self.faults.next(endpoint)
        if scripted is None:
            response = handler(request)
        elif scripted.status is None:
            response = scripted.deliver(handler(request))
        else:
            response = scripted.to_response()
        self.request_log.record(endpoint, request, response.status)
        return response

    # --- tokens -----------------------------------------------------------------------------

    def mint_access_token(
        self,
        *,
        client_id: str,
        object_id: str,
        audience: str,
        appidacr: str,
        cnf_x5t_s256: str | None = None,
        lifetime: int = 3600,
        idtyp: str = "app",
    ) -> str:
        """An RS256 access token (JWT) signed by `signing`, bound when `cnf_x5t_s256` is set."""
        now = int(self.clock.now())
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "appid": client_id,
            "azp": client_id,
            "appidacr": appidacr,
            "azpacr": appidacr,
            "idtyp": idtyp,
            "oid": object_id,
            "sub": object_id,
            "tid": self.tenant_id,
            "uti": b64url(uuid.uuid4().bytes),
            "ver": "2.0",
        }
        if cnf_x5t_s256:
            claims["cnf"] = {"x5t#S256": cnf_x5t_s256}
            claims["xms_tbflags"] = 2
        return _jwt.encode({"kid": self.signing.kid}, claims, self.signing.key)


__all__ = [
    "AppRegistration",
    "CertificateAuthority",
    "EmulatorClock",
    "EmulatorState",
    "EndpointUrls",
    "ManagedIdentity",
    "SigningKey",
    "default_resources",
]
