"""The demo tenant every emulator run starts with."""

from __future__ import annotations

import secrets

from identity_web.emulator._config import EmulatorConfig
from identity_web.emulator._directory import (
    AppRegistration,
    ManagedIdentity,
    Resource,
    default_resources,
    new_guid,
)
from identity_web.emulator._pki import name, new_rsa_key
from identity_web.emulator._state import EmulatorState
from identity_web.protocol._binding import BindingCertificate

DEMO_APP_CERT_DAYS = 365
RESOURCE_GROUP = "identity-web-emulator"


def build_default_state(config: EmulatorConfig | None = None) -> EmulatorState:
    """A state with one demo app (secret + CA-issued certificate), a system-assigned and a
    user-assigned managed identity (both federated to the demo app) and the default resources.
    """
    state = EmulatorState(config)
    populate_demo_tenant(state)
    return state


def populate_demo_tenant(state: EmulatorState) -> None:
    subscription = new_guid()
    system = ManagedIdentity.create(
        "SystemAssigned",
        "identity-web-vm",
        subscription=subscription,
        resource_group=RESOURCE_GROUP,
    )
    user = ManagedIdentity.create(
        "UserAssigned",
        "identity-web-uami",
        subscription=subscription,
        resource_group=RESOURCE_GROUP,
    )
    state.managed_identities.extend([system, user])
    app = create_app(state, "identity-web demo app")
    app.mtls_client_auth_enabled = state.config.demo_mtls_client_auth
    app.federated_managed_identities.extend([system.client_id, user.client_id])
    _register_resources(state)


def create_app(state: EmulatorState, display_name: str) -> AppRegistration:
    """Register an app with a fresh client secret and a certificate issued by the emulator CA.

    The certificate and its private key are kept in `state.app_credentials[client_id]`.
    """
    client_id = new_guid()
    key = new_rsa_key()
    certificate = state.ca.issue(
        key.public_key(), name(f"{display_name} {client_id[:8]}"), days=DEMO_APP_CERT_DAYS
    )
    state.app_credentials[client_id] = BindingCertificate.create(
        certificate, key, (state.ca.certificate,)
    )
    app = AppRegistration(
        client_id=client_id,
        display_name=display_name,
        client_secret=secrets.token_urlsafe(30),
        certificates=[certificate],
    )
    return state.register_app(app)


def _register_resources(state: EmulatorState) -> None:
    disabled = {uri.rstrip("/").lower() for uri in state.config.bound_tokens_disabled}
    resources = default_resources(new_guid())
    resources += [Resource(new_guid(), (uri,), uri, True) for uri in state.config.extra_resources]
    for resource in resources:
        enabled = not any(uri.rstrip("/").lower() in disabled for uri in resource.identifier_uris)
        state.resources.add(
            Resource(resource.app_id, resource.identifier_uris, resource.display_name, enabled)
        )


def demo_resource(state: EmulatorState) -> Resource:
    """The demo API (the first registered resource)."""
    return next(iter(state.resources))
