"""Fixtures for managed identity tests over the real stack (emulator + HttpTransport)."""

from __future__ import annotations

from typing import Any

import pytest

from identity_web.managed_identity import ManagedIdentityClient, SoftwareAttestationProvider

MI_VARIABLES = (
    "IDENTITY_ENDPOINT",
    "IDENTITY_HEADER",
    "IDENTITY_SERVER_THUMBPRINT",
    "IMDS_ENDPOINT",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_ID",
)


@pytest.fixture
def imds_env(emulator: Any) -> dict[str, str]:
    return {"AZURE_POD_IDENTITY_AUTHORITY_HOST": emulator.manifest.imds_endpoint}


@pytest.fixture
def mi(imds_env: dict[str, str]) -> ManagedIdentityClient:
    """A client aimed at the emulator's IMDS, with retry delays scaled down to milliseconds,
    attesting its IMDS v2 keys (the emulator's default `required` mode)."""
    return ManagedIdentityClient(
        environ=imds_env,
        retry_scale=0.001,
        arc_agent_path="/nonexistent/himds",
        attestation=SoftwareAttestationProvider(),
    )


@pytest.fixture
def clean_mi_environment(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No managed identity variable of the test runner's own environment leaks in."""
    for name in MI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch
