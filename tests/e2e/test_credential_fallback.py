"""Credentials fall back the way Identity.Web does for token binding: for `MTLS_POP`, entries
that cannot bind (a secret, a token file) are passed over for the first entry that can."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import API, build, certificate_config, token_requests
from testkit import exchange_token, invalid_client_body

from identity_web import InvalidRequestError, NoCredentialLoadedError
from identity_web.emulator import Emulator, EmulatorManifest


def secret_then_certificate(manifest: EmulatorManifest, **api: Any) -> dict[str, Any]:
    config = certificate_config(manifest, **api)
    secret = {"SourceType": "ClientSecret", "ClientSecret": manifest.apps[0].client_secret}
    config["AzureAd"]["ClientCredentials"].insert(0, secret)
    return config


def test_mtls_pop_passes_over_a_secret_for_the_certificate_that_can_bind(
    emulator: Emulator, manifest: EmulatorManifest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="identity_web")
    with build(secret_then_certificate(manifest, ProtocolScheme="MTLS_POP"), manifest) as services:
        response = services.downstream_api.call(API)
    assert response.status == 200, response.text
    assert response.token_type == "mtls_pop"
    assert response.json()["cnf_x5t_s256"] == response.binding_certificate.x5t_s256
    (post,) = token_requests(emulator.requests())
    assert post["endpoint"] == "entra.mtls_token"
    warnings = [r.getMessage() for r in caplog.records if "passing over" in r.getMessage()]
    assert len(warnings) == 1
    assert "AzureAd.ClientCredentials[0] (ClientSecret)" in warnings[0]
    assert "AzureAd.ClientCredentials[1]" in warnings[0]
    assert manifest.apps[0].client_secret not in caplog.text


def test_bearer_keeps_the_first_entry(emulator: Emulator, manifest: EmulatorManifest) -> None:
    with build(secret_then_certificate(manifest), manifest) as services:
        assert services.downstream_api.call(API).status == 200
    (post,) = token_requests(emulator.requests())
    assert "client_secret" in post["form"]  # the secret, not the certificate's assertion


def test_idw10115_only_when_no_entry_can_bind(
    emulator: Emulator, manifest: EmulatorManifest, tmp_path: Path
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(exchange_token(emulator))
    config = secret_then_certificate(manifest, ProtocolScheme="MTLS_POP")
    config["AzureAd"]["ClientCredentials"][1] = {
        "SourceType": "SignedAssertionFilePath",
        "SignedAssertionFileDiskPath": str(token_file),
    }
    with build(config, manifest) as services, pytest.raises(InvalidRequestError) as caught:
        services.downstream_api.call(API)
    assert caught.value.code == "IDW10115"
    message = str(caught.value)
    assert "AzureAd.ClientCredentials[0] (ClientSecret)" in message
    assert "AzureAd.ClientCredentials[1] (SignedAssertionFilePath)" in message
    assert emulator.requests() == []


def test_an_entry_entra_rejects_is_skipped_and_the_next_one_tried_once(
    emulator: Emulator, manifest: EmulatorManifest, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="identity_web")
    config = secret_then_certificate(manifest)
    config["AzureAd"]["ClientCredentials"][0]["ClientSecret"] = "not-the-secret"
    with build(config, manifest) as services:
        assert services.downstream_api.call(API).status == 200
        services.token_acquirer.cache.clear()
        assert services.downstream_api.call(API).status == 200  # the rejected entry stays out
    posts = token_requests(emulator.requests())
    assert [p["status"] for p in posts] == [401, 200, 200]
    assert "client_secret" in posts[0]["form"]
    assert all("client_assertion" in p["form"] for p in posts[1:])
    warnings = [r.getMessage() for r in caplog.records if "rejected by Entra" in r.getMessage()]
    assert len(warnings) == 1
    assert "AzureAd.ClientCredentials[0] (ClientSecret)" in warnings[0]
    assert "AADSTS7000215" in warnings[0]
    assert "not-the-secret" not in caplog.text


def test_when_every_entry_is_rejected_the_error_lists_each_attempt(
    emulator: Emulator, manifest: EmulatorManifest
) -> None:
    config = secret_then_certificate(manifest)
    config["AzureAd"]["ClientCredentials"][0]["ClientSecret"] = "not-the-secret"
    emulator.inject_faults("entra.token", [{"status": 401, "body": _rejection(700027)}] * 2)
    with build(config, manifest) as services, pytest.raises(NoCredentialLoadedError) as caught:
        services.downstream_api.call(API)
    posts = token_requests(emulator.requests())
    assert len(posts) == 2  # each entry tried once
    message = str(caught.value)
    assert "IDW10109" in message
    assert message.count("rejected by Entra ID (AADSTS700027)") == 2


def _rejection(code: int) -> str:
    return json.dumps(invalid_client_body(code))
