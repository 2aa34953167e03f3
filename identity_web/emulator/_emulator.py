"""`Emulator`: starts every emulated host on ephemeral loopback ports and describes them."""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import ssl
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from identity_web._errors import IdentityWebError
from identity_web.emulator import _hosts as hosts
from identity_web.emulator._admin import AdminService
from identity_web.emulator._attestation import AttestationMode, AttestationService
from identity_web.emulator._config import EmulatorConfig
from identity_web.emulator._demo_tenant import build_default_state, demo_resource
from identity_web.emulator._directory import AppRegistration
from identity_web.emulator._entra import LoginService, MtlsService
from identity_web.emulator._key_vault import KeyVaultService
from identity_web.emulator._manifest import (
    AppManifest,
    EmulatorManifest,
    ManagedIdentityManifest,
    ResourceManifest,
    atomic_write,
    dotenv,
    write_certificate_files,
)
from identity_web.emulator._pki import pem
from identity_web.emulator._recording import ScriptedResponse
from identity_web.emulator._resource import ResourceService
from identity_web.emulator._server import Listener, ServerTls, encrypted_key_pem
from identity_web.emulator._state import EmulatorState
from identity_web.emulator._vault_store import KeyVaultStore
from identity_web.emulator._wire import Service
from identity_web.emulator._workdir import create_work_dir
from identity_web.emulator.hosting import (
    AppServiceService,
    ArcService,
    CloudShellService,
    HostedIdentityService,
    MachineLearningService,
    ServiceFabricService,
)
from identity_web.emulator.imds import ImdsService
from identity_web.protocol._binding import BindingCertificate

logger = logging.getLogger(__name__)

#: The managed identity endpoints of hosting platforms: (listener name, service, over TLS?).
HOSTING_SERVICES: tuple[tuple[str, Callable[[EmulatorState], HostedIdentityService], bool], ...] = (
    ("app_service", AppServiceService, False),
    ("arc", ArcService, False),
    ("cloud_shell", CloudShellService, False),
    ("service_fabric", ServiceFabricService, True),
    ("machine_learning", MachineLearningService, False),
)


class EmulatorStartError(IdentityWebError):
    """The emulator could not start (a port could not be bound, a file not written)."""


class Emulator:
    """Entra ID (login + mtlsauth), IMDS, a resource API and the admin API over real TLS.

    Use `with Emulator() as emulator:` or `start()` / `stop()`. `manifest` describes the running
    emulator; `state` is the shared `EmulatorState`.
    """

    def __init__(
        self, config: EmulatorConfig | None = None, *, state: EmulatorState | None = None
    ) -> None:
        self.config = config or (state.config if state else EmulatorConfig())
        self._state = state
        self._listeners: list[Listener] = []
        self._manifest: EmulatorManifest | None = None
        self._work_dir: Path | None = None
        self._remove_work_dir: Callable[[], None] | None = None
        self._written: list[Path] = []
        self._hosting: dict[str, HostedIdentityService] = {}

    # --- lifecycle --------------------------------------------------------------------------

    @property
    def state(self) -> EmulatorState:
        if self._state is None:
            self._state = build_default_state(self.config)
        return self._state

    @property
    def running(self) -> bool:
        return self._manifest is not None

    @property
    def manifest(self) -> EmulatorManifest:
        if self._manifest is None:
            raise EmulatorStartError("the emulator is not running; call start() first")
        return self._manifest

    def start(self) -> EmulatorManifest:
        if self._manifest is not None:
            return self._manifest
        try:
            self._bind_listeners()
            self._manifest = self._write_work_files()
        except OSError as error:
            self.stop()
            raise EmulatorStartError(f"cannot start the emulator: {error}") from error
        for listener in self._listeners:
            listener.start()
        logger.info("emulator running: login %s", self._manifest.instance)
        return self._manifest

    def stop(self) -> None:
        stoppers = [threading.Thread(target=listener.stop) for listener in self._listeners]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        self._listeners.clear()
        self._hosting.clear()
        self._manifest = None
        for path in self._written:
            path.unlink(missing_ok=True)
        self._written.clear()
        if self._remove_work_dir is not None:
            self._remove_work_dir()
            self._remove_work_dir = None
        self._work_dir = None

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _bind_listeners(self) -> None:
        state = self.state
        password = secrets.token_bytes(24)
        trusted = [state.ca.certificate, state.imds_issuer.certificate]
        trusted += [c for app in state.apps for c in app.certificates]
        tls = ServerTls(
            state.server_certificate,
            encrypted_key_pem(state.server_key, password),
            trusted,
            password,
        )
        state.add_trust_listener(tls.trust)
        host = self.config.host
        login_tls = tls.context_for(state.login_certificate)
        login = self._listen("login", LoginService(state, AdminService(state)), host, login_tls)
        mtls_tls = tls.context_for(state.mtls_certificate)
        mtls = self._listen("mtlsauth", MtlsService(state), host, mtls_tls)
        resource = self._listen("resource", ResourceService(state), host, tls.context)
        vault_tls = tls.context_for(state.vault_certificate)
        vault = self._listen("key_vault", KeyVaultService(state), host, vault_tls)
        state.urls.key_vault_base = f"{vault.base_url}/"
        state.urls.login_base = f"{login.base_url}/"
        state.urls.mtls_base = f"{mtls.base_url}/"
        state.urls.resource_base = f"{resource.base_url}/"
        state.urls.admin_url = f"{login.base_url}/_emulator/"
        state.urls.imds_base = self._listen("imds", ImdsService(state), host, None).base_url
        authority = self._listen("attestation", AttestationService(state), host, tls.context)
        state.attestation.endpoint = authority.base_url
        for name, factory, secure in HOSTING_SERVICES:
            service = factory(state)
            listener = self._listen(name, service, host, tls.context if secure else None)
            state.urls.extra[name] = listener.base_url
            self._hosting[name] = service

    def _listen(
        self, name: str, service: Service, host: str, tls: ssl.SSLContext | None
    ) -> Listener:
        listener = Listener(name, host, service, tls)
        self._listeners.append(listener)
        return listener

    # --- files and manifest -----------------------------------------------------------------

    def _work_directory(self) -> Path:
        if self.config.work_dir is not None:
            self.config.work_dir.mkdir(parents=True, exist_ok=True)
            return self.config.work_dir
        directory = create_work_dir()
        # Removed on stop(), or at interpreter exit if the emulator is still running then.
        self._remove_work_dir = weakref.finalize(self, _remove_tree, directory)
        return directory

    def _write_work_files(self) -> EmulatorManifest:
        state = self.state
        directory = self._work_dir = self._work_directory()
        ca_bundle = directory / "emulator-ca.pem"
        client_bundle = directory / "client-issuers.pem"
        atomic_write(ca_bundle, state.ca.pem)
        atomic_write(client_bundle, state.ca.pem + pem(state.imds_issuer.certificate))
        apps = tuple(self._app_manifest(directory, app, i) for i, app in enumerate(state.apps))
        resource = demo_resource(state)
        routes = self._route_targets()
        return EmulatorManifest(
            ca_bundle=str(ca_bundle.resolve()),
            client_ca_bundle=str(client_bundle.resolve()),
            instance=state.urls.login_base,
            tenant_id=state.tenant_id,
            mtls_token_endpoint_base=state.urls.mtls_base,
            imds_endpoint=state.urls.imds_base,
            resource=ResourceManifest(
                state.urls.resource_base, f"{resource.identifier_uris[0]}/.default"
            ),
            apps=apps,
            managed_identities=tuple(
                ManagedIdentityManifest(mi.kind, mi.client_id, mi.object_id, mi.resource_id)
                for mi in state.managed_identities
            ),
            admin_url=state.urls.admin_url,
            hosting_endpoints=dict(state.urls.extra),
            resolve=hosts.resolve_map(**routes),
            resolve_wildcards=hosts.wildcard_map(mtls=routes["mtls"], vault=routes["vault"]),
            key_vault_url=state.urls.key_vault_base,
            attestation_endpoint=state.attestation.endpoint,
            attestation_mode=str(state.attestation_mode),
        )

    def _route_targets(self) -> dict[str, str]:
        """The loopback `address:port` the resolve map sends each kind of host to."""
        by_name = {listener.name: listener.address for listener in self._listeners}
        return {
            "login": by_name["login"],
            "mtls": by_name["mtlsauth"],
            "imds": by_name["imds"],
            "vault": by_name["key_vault"],
        }

    def _app_manifest(self, directory: Path, app: AppRegistration, index: int) -> AppManifest:
        credential = self.state.app_credentials.get(app.client_id)
        pem_path = pfx_path = None
        password = self.config.pfx_password
        if credential is not None:
            stem = "app" if index == 0 else f"app{index + 1}"
            pem_path, pfx_path = write_certificate_files(directory, stem, credential, password)
        return AppManifest(
            client_id=app.client_id,
            client_secret=app.client_secret,
            certificate_pem_path=str(pem_path) if pem_path else None,
            certificate_pfx_path=str(pfx_path) if pfx_path else None,
            certificate_pfx_password=password if credential is not None else None,
            federated_managed_identities=tuple(app.federated_managed_identities),
            mtls_client_auth_enabled=app.mtls_client_auth_enabled,
        )

    def write_files(self, manifest_path: Path | None, env_path: Path | None) -> None:
        """Write the manifest JSON and the env file atomically; `stop()` removes them."""
        manifest = self.manifest
        if manifest_path is not None:
            text = json.dumps(manifest.to_json(), indent=2) + "\n"
            atomic_write(manifest_path, text.encode("utf-8"), 0o600)
            self._written.append(manifest_path)
        if env_path is not None:
            atomic_write(env_path, dotenv(manifest.env(manifest_path)).encode("utf-8"), 0o600)
            self._written.append(env_path)

    # --- conveniences for tests and the demo --------------------------------------------------

    @property
    def key_vault(self) -> KeyVaultStore:
        """The emulated vault's contents (`set_certificate(name, credential)` adds a version)."""
        return self.state.key_vault

    @property
    def demo_app(self) -> AppRegistration:
        return self.state.apps[0]

    @property
    def demo_credential(self) -> BindingCertificate:
        """The demo app's certificate with its private key."""
        return self.state.app_credentials[self.demo_app.client_id]

    def open_connections(self) -> dict[str, int]:
        """Open client connections per listener (`login`, `mtlsauth`, `resource`, `imds` …)."""
        return {listener.name: listener.open_connections for listener in self._listeners}

    def hosting_environment(self, name: str) -> dict[str, str]:
        """The variables a hosting platform (`app_service`, `arc`, …) would set for a client."""
        service = self._hosting.get(name)
        if service is None:
            raise KeyError(f"no hosting endpoint {name!r}; running: {sorted(self._hosting)}")
        return service.environment(self.state.urls.extra[name])

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        return self.state.request_log.entries(endpoint)

    def clear_requests(self) -> None:
        self.state.request_log.clear()

    def inject_faults(
        self, endpoint: str, responses: Sequence[Mapping[str, Any] | ScriptedResponse]
    ) -> None:
        """Script the next responses of `endpoint` (same shape as `POST /_emulator/faults`)."""
        scripted = [
            r if isinstance(r, ScriptedResponse) else ScriptedResponse.from_json(r)
            for r in responses
        ]
        self.state.faults.inject(endpoint, scripted)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def set_attestation_mode(self, mode: str) -> None:
        """`required` | `optional` | `off` for IMDS v2 `issuecredential` from now on."""
        self.state.attestation_mode = AttestationMode(mode)

    def reset(self) -> None:
        """Clear the log and the faults, undo clock shifts, restore the attestation mode, and
        empty the vault."""
        self.clear_requests()
        self.state.key_vault.clear()
        self.clear_faults()
        self.state.clock.reset()
        self.set_attestation_mode(self.config.attestation_mode)


def _remove_tree(directory: Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
