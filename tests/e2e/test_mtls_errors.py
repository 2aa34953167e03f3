"""Errors on an mTLS token request say what to check: AADSTS51000 (the app is not enabled for
mTLS client authentication), AADSTS392196 (the resource does not take bound tokens) and
invalid_client (the certificate presented on TLS was not accepted)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from e2e_helpers import build, certificate_config

from identity_web import ServiceError
from identity_web.emulator import Emulator


@pytest.fixture
def app_not_enrolled(emulator: Emulator) -> Iterator[Emulator]:
    app = emulator.state.find_app(emulator.manifest.apps[0].client_id)
    assert app is not None
    app.mtls_client_auth_enabled = False
    try:
        yield emulator
    finally:
        app.mtls_client_auth_enabled = True


def bound_call(emulator: Emulator, scope: str | None = None) -> None:
    manifest = emulator.manifest
    with build(certificate_config(manifest, ProtocolScheme="MTLS_POP"), manifest) as services:
        services.token_acquirer.acquire_token_for_app(scope or manifest.resource.scope, bound=True)


def test_aadsts51000_says_to_enable_mtls_client_auth(app_not_enrolled: Emulator) -> None:
    with pytest.raises(ServiceError, match="not enabled for mTLS client authentication") as error:
        bound_call(app_not_enrolled)
    assert error.value.has_code(51000)


def test_aadsts392196_says_the_resource_takes_no_bound_tokens(emulator: Emulator) -> None:
    with pytest.raises(ServiceError, match="does not accept certificate-bound tokens") as error:
        bound_call(emulator, "https://management.azure.com/.default")
    assert error.value.has_code(392196)


def test_invalid_client_on_mtls_says_to_check_the_certificate(emulator: Emulator) -> None:
    body = {"error": "invalid_client", "error_description": "AADSTS7000218: no credential"}
    emulator.inject_faults("entra.mtls_token", [{"status": 401, "body": json.dumps(body)}])
    with pytest.raises(ServiceError, match="certificate presented on TLS is registered"):
        bound_call(emulator)
