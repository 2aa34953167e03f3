"""Keys and attestation of the IMDS v2 certificate against the emulator's attestation
authority: in `required` mode a client without an attestation provider gets a typed error that
says what the host needs; the software provider attests through the authority and gets its
bound token; the certificate cache is kept apart per key kind and attestation mode."""

from __future__ import annotations

from typing import Any

import pytest
from e2e_helpers import API, managed_identity_config

from identity_web import ConfigurationError, TokenAcquirerFactory
from identity_web.emulator import Emulator
from identity_web.managed_identity import (
    AttestationError,
    ManagedIdentityClient,
    SoftwareAttestationProvider,
)
from identity_web.settings import IdentityWebSettings


def call(emulator: Emulator, **environ: str) -> Any:
    manifest = emulator.manifest
    config = managed_identity_config(manifest, ProtocolScheme="MTLS_POP")
    env = {**manifest.env(), **environ}
    env.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=env)
    factory.add_downstream_api(API)
    with factory.build() as services:
        return services.downstream_api.call(API)


def test_required_mode_without_a_provider_is_a_typed_error_naming_what_to_set(
    emulator: Emulator,
) -> None:
    emulator.set_attestation_mode("required")
    with pytest.raises(AttestationError, match="IDENTITY_WEB_MI_ATTESTATION=software"):
        call(emulator, IDENTITY_WEB_MI_ATTESTATION="none")
    assert emulator.requests("attestation.attest") == []
    assert emulator.requests("entra.mtls_token") == []


def test_the_software_provider_attests_through_the_authority(emulator: Emulator) -> None:
    emulator.set_attestation_mode("required")
    response = call(emulator, IDENTITY_WEB_MI_ATTESTATION="software")
    assert (response.status, response.token_type) == (200, "mtls_pop")
    (attest,) = emulator.requests("attestation.attest")
    assert attest["status"] == 200
    (issue,) = emulator.requests("imds.issuecredential")
    assert issue["status"] == 200
    assert issue["form"]["attestation_token"] == "***"


def test_a_token_the_authority_did_not_sign_is_refused_with_a_typed_error(
    emulator: Emulator,
) -> None:
    emulator.set_attestation_mode("required")
    emulator.inject_faults(
        "attestation.attest", [{"status": 200, "body": {"token": "e30.e30.c2ln"}}]
    )
    with pytest.raises(AttestationError, match="refused the attestation token"):
        call(emulator, IDENTITY_WEB_MI_ATTESTATION="software")


def test_an_unknown_provider_name_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="IDENTITY_WEB_MI_ATTESTATION"):
        ManagedIdentityClient(environ={"IDENTITY_WEB_MI_ATTESTATION": "keyguard"})


def test_the_certificate_cache_key_names_key_kind_and_attestation_mode() -> None:
    plain = ManagedIdentityClient(environ={})
    attested = ManagedIdentityClient(environ={}, attestation=SoftwareAttestationProvider())
    assert plain.describe_providers() == {"key_provider": "software-rsa", "attestation": "none"}
    assert attested.describe_providers()["attestation"] == "software"
