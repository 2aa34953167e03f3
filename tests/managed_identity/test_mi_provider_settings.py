"""The key and attestation providers of IMDS v2 certificates chosen from settings
(`AzureAd.ManagedIdentity.KeyProvider` / `.Attestation`): from a JSON file, from environment
variables, or a plug-in by name, observed at the emulator (an attestation or none); a value
that names no provider is refused with its key path before any request."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from identity_web import ConfigurationError, TokenAcquirerFactory
from identity_web.emulator import Emulator
from identity_web.managed_identity import AttestationError

API = "MyApi"


def write_settings(folder: Path, emulator: Emulator, **managed_identity: str) -> Path:
    manifest = emulator.manifest
    azure_ad: dict[str, Any] = {}
    if managed_identity:
        azure_ad["ManagedIdentity"] = managed_identity
    settings = {
        "AzureAd": azure_ad,
        API: {
            "BaseUrl": manifest.resource.base_url,
            "RelativePath": "whoami",
            "Scopes": [manifest.resource.scope],
            "RequestAppToken": True,
            "ProtocolScheme": "MTLS_POP",
            "AcquireTokenOptions": {"ManagedIdentity": {}},
        },
    }
    (folder / "appsettings.json").write_text(json.dumps(settings), encoding="utf-8")
    return folder


def call(folder: Path, environ: dict[str, str]) -> int:
    factory = TokenAcquirerFactory.from_config_dir(folder, environ=environ)
    with factory.add_downstream_api(API).build() as services:
        return services.downstream_api.call(API).status


def client_environment(emulator: Emulator, **extra: str) -> dict[str, str]:
    """The emulator's env file without its attestation default: settings alone decide."""
    environ = {**emulator.manifest.env(), **extra}
    environ.pop("IDENTITY_WEB_MI_ATTESTATION")
    return environ


def attested(emulator: Emulator) -> bool:
    """Whether the client had its key attested by the emulator's authority before the one
    `issuecredential` (the request log masks the token itself, present or empty)."""
    assert len(emulator.requests("imds.issuecredential")) == 1
    return len(emulator.requests("attestation.attest")) == 1


def test_attestation_chosen_in_the_json_file(emulator: Emulator, tmp_path: Path) -> None:
    folder = write_settings(tmp_path, emulator, Attestation="Software")
    assert call(folder, client_environment(emulator)) == 200
    assert attested(emulator)


def test_attestation_chosen_by_environment_variables(emulator: Emulator, tmp_path: Path) -> None:
    folder = write_settings(tmp_path, emulator)
    environ = client_environment(emulator, AzureAd__ManagedIdentity__Attestation="software")
    assert call(folder, environ) == 200
    assert attested(emulator)


def test_none_in_the_file_wins_over_the_emulator_env_file(
    emulator: Emulator, tmp_path: Path
) -> None:
    """`IDENTITY_WEB_MI_ATTESTATION=software` (the env file) is a layer below the settings."""
    emulator.set_attestation_mode("optional")
    folder = write_settings(tmp_path, emulator, Attestation="None")
    assert call(folder, emulator.manifest.env()) == 200
    assert not attested(emulator)


def test_without_a_setting_the_required_mode_names_the_key_to_set(
    emulator: Emulator, tmp_path: Path
) -> None:
    folder = write_settings(tmp_path, emulator)
    with pytest.raises(AttestationError, match=r"AzureAd\.ManagedIdentity\.Attestation"):
        call(folder, client_environment(emulator))
    assert emulator.requests("entra.mtls_token") == []


def test_plug_ins_named_in_settings_are_built_and_used(emulator: Emulator, tmp_path: Path) -> None:
    folder = write_settings(
        tmp_path,
        emulator,
        KeyProvider="identity_web.managed_identity:SoftwareKeyProvider",
        Attestation="identity_web.managed_identity:SoftwareAttestationProvider",
    )
    assert call(folder, client_environment(emulator)) == 200
    assert attested(emulator)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("Attestation", "KeyGuard", "allowed: None, Software"),
        ("KeyProvider", "tpm", "allowed: Software"),
        ("Attestation", "no_such_package.attest:factory", "cannot import module"),
        ("KeyProvider", "identity_web.managed_identity:NoSuchProvider", "has no"),
    ],
)
def test_a_value_that_names_no_provider_is_refused_with_its_key_path(
    emulator: Emulator, tmp_path: Path, key: str, value: str, reason: str
) -> None:
    folder = write_settings(tmp_path, emulator, **{key: value})
    with pytest.raises(ConfigurationError) as caught:
        call(folder, client_environment(emulator))
    (problem,) = caught.value.problems
    assert problem.path == f"AzureAd.ManagedIdentity.{key}"
    assert reason in problem.message
    assert emulator.requests() == []
