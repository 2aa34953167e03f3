"""Fidelity check by a peer: MSAL Python acquires tokens from the emulator; they validate."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import emulator_testkit as kit
import msal
import pytest
import requests
from cryptography.hazmat.primitives import hashes

from identity_web.emulator import Emulator


@pytest.fixture
def session(emulator: Emulator) -> Iterator[requests.Session]:
    with requests.Session() as http:
        # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE beat Session.verify; ignore them.
        http.trust_env = False
        http.verify = emulator.manifest.ca_bundle
        yield http


def _acquire(emulator: Emulator, http: requests.Session, credential: Any) -> dict[str, Any]:
    m = emulator.manifest
    app = msal.ConfidentialClientApplication(
        m.apps[0].client_id,
        client_credential=credential,
        authority=f"{m.instance}{m.tenant_id}",
        instance_discovery=False,
        http_client=http,
        token_cache=msal.TokenCache(),
    )
    result: dict[str, Any] = app.acquire_token_for_client(scopes=[m.resource.scope])
    assert "access_token" in result, result
    return result


def _validates_at_resource(emulator: Emulator, result: dict[str, Any]) -> dict[str, Any]:
    with kit.client(emulator) as http:
        response = http.get(
            emulator.manifest.resource.base_url + "whoami",
            headers={"Authorization": f"{result['token_type']} {result['access_token']}"},
        )
    assert response.status_code == 200, response.text
    who: dict[str, Any] = response.json()
    assert who["appid"] == emulator.manifest.apps[0].client_id
    return who


def test_msal_with_client_secret(emulator: Emulator, session: requests.Session) -> None:
    result = _acquire(emulator, session, emulator.manifest.apps[0].client_secret)
    assert result["token_type"] == "Bearer"
    assert _validates_at_resource(emulator, result)["appidacr"] == "1"


def test_msal_with_certificate_and_sha1_thumbprint(
    emulator: Emulator, session: requests.Session
) -> None:
    """The legacy form: RS256 with an `x5t` header."""
    pem = Path(emulator.manifest.apps[0].certificate_pem_path or "").read_text()
    sha1 = emulator.demo_credential.certificate.fingerprint(hashes.SHA1()).hex()  # noqa: S303
    result = _acquire(emulator, session, {"private_key": pem, "thumbprint": sha1})
    assert _validates_at_resource(emulator, result)["appidacr"] == "2"
    (entry,) = emulator.requests("entra.token")
    assert entry["form"]["client_assertion_type"] == kit.JWT_BEARER


def test_msal_with_certificate_and_public_certificate(
    emulator: Emulator, session: requests.Session
) -> None:
    """The newer form: PS256 with `x5t#S256` and `x5c` (SN/I)."""
    pem = Path(emulator.manifest.apps[0].certificate_pem_path or "").read_text()
    result = _acquire(emulator, session, {"private_key": pem, "public_certificate": pem})
    assert _validates_at_resource(emulator, result)["appidacr"] == "2"


def test_msal_with_pfx_file(emulator: Emulator, session: requests.Session) -> None:
    app = emulator.manifest.apps[0]
    credential = {
        "private_key_pfx_path": app.certificate_pfx_path,
        "passphrase": app.certificate_pfx_password,
        "public_certificate": True,
    }
    result = _acquire(emulator, session, credential)
    assert _validates_at_resource(emulator, result)["appidacr"] == "2"


def test_msal_surfaces_the_emulator_error_shape(
    emulator: Emulator, session: requests.Session
) -> None:
    m = emulator.manifest
    app = msal.ConfidentialClientApplication(
        m.apps[0].client_id,
        client_credential="wrong",
        authority=f"{m.instance}{m.tenant_id}",
        instance_discovery=False,
        http_client=session,
    )
    result = app.acquire_token_for_client(scopes=[m.resource.scope])
    assert result["error"] == "invalid_client"
    assert result["error_codes"] == [7000215]
    assert result["error_description"].startswith("AADSTS7000215: ")
