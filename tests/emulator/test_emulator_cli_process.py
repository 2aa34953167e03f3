"""`identity-web emulator` as a process: manifest and env file, SIGTERM/SIGINT shutdown."""

from __future__ import annotations

import json
import os
import re
import signal
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import emulator_testkit as kit
import httpx
import pytest

from identity_web._errors import ConfigurationError
from identity_web.emulator import Emulator, EmulatorConfig, EmulatorStartError
from identity_web.emulator._manifest import dotenv

MANIFEST_KEYS = {
    "ca_bundle",
    "client_ca_bundle",
    "instance",
    "tenant_id",
    "mtls_token_endpoint_base",
    "imds_endpoint",
    "resource",
    "apps",
    "managed_identities",
    "admin_url",
}
ADDED_KEYS = {
    "hosting_endpoints",
    "resolve",
    "resolve_wildcards",
    "attestation_endpoint",
    "attestation_mode",
    "key_vault_url",
}
APP_KEYS = {
    "client_id",
    "client_secret",
    "certificate_pem_path",
    "certificate_pfx_path",
    "certificate_pfx_password",
    "federated_managed_identities",
}
MANAGED_IDENTITY_KEYS = {"kind", "client_id", "object_id", "resource_id"}
PORT = r"127\.0\.0\.1:\d+"


def _start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[bytes], Path, Path]:
    manifest, env_file = tmp_path / "manifest.json", tmp_path / "emulator.env"
    arguments = ("--manifest", str(manifest), "--env-file", str(env_file), *extra)
    return kit.start_process(env_file, *arguments), manifest, env_file


def _assert_contract_shape(manifest: dict[str, Any]) -> None:
    """Every key and value form of CONTRACTS.md, plus the additions (extend, never rename)."""
    assert set(manifest) - ADDED_KEYS == MANIFEST_KEYS
    assert re.fullmatch(rf"https://{PORT}/", manifest["instance"])
    assert re.fullmatch(rf"https://{PORT}/", manifest["mtls_token_endpoint_base"])
    assert re.fullmatch(rf"http://{PORT}", manifest["imds_endpoint"])
    assert manifest["admin_url"] == manifest["instance"] + "_emulator/"
    assert str(uuid.UUID(manifest["tenant_id"])) == manifest["tenant_id"]
    assert set(manifest["resource"]) == {"base_url", "scope"}
    assert re.fullmatch(rf"https://{PORT}/", manifest["resource"]["base_url"])
    assert re.fullmatch(r"api://[0-9a-f-]{36}/\.default", manifest["resource"]["scope"])
    (app,) = manifest["apps"]
    assert set(app) == APP_KEYS | {"mtls_client_auth_enabled"}
    assert app["mtls_client_auth_enabled"] is True
    assert app["client_secret"]
    assert isinstance(app["certificate_pfx_password"], str)
    identities = manifest["managed_identities"]
    assert all(set(mi) == MANAGED_IDENTITY_KEYS for mi in identities)
    assert {mi["kind"] for mi in identities} == {"SystemAssigned", "UserAssigned"}
    assert all(mi["resource_id"].startswith("/subscriptions/") for mi in identities)
    assert app["federated_managed_identities"] == [mi["client_id"] for mi in identities]
    for path in (manifest["ca_bundle"], manifest["client_ca_bundle"]):
        assert Path(path).is_absolute()
        assert Path(path).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def _stop(process: subprocess.Popen[bytes], sig: signal.Signals) -> int:
    started = time.monotonic()
    process.send_signal(sig)
    code = process.wait(timeout=10)
    assert time.monotonic() - started < 5
    return code


def test_manifest_and_env_file_describe_a_listening_emulator_and_sigterm_exits_0(
    tmp_path: Path,
) -> None:
    process, manifest_path, env_path = _start(tmp_path)
    try:
        manifest = json.loads(manifest_path.read_text())
        _assert_contract_shape(manifest)
        env = dict(line.split("=", 1) for line in env_path.read_text().splitlines())
        assert env["SSL_CERT_FILE"] == manifest["ca_bundle"]
        assert env["AZURE_POD_IDENTITY_AUTHORITY_HOST"] == manifest["imds_endpoint"]
        assert env["IDENTITY_WEB_EMULATOR_MANIFEST"] == str(manifest_path.resolve())
        app = manifest["apps"][0]
        for key in ("certificate_pem_path", "certificate_pfx_path", "ca_bundle"):
            path = app.get(key) or manifest[key]
            assert Path(path).is_absolute()
            assert Path(path).exists()
        assert {mi["kind"] for mi in manifest["managed_identities"]} == {
            "SystemAssigned",
            "UserAssigned",
        }
        context = ssl.create_default_context(cafile=manifest["ca_bundle"])
        with httpx.Client(verify=context) as http:  # listening as soon as the files exist
            response = http.post(
                f"{manifest['instance']}{manifest['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": app["client_id"],
                    "client_secret": app["client_secret"],
                    "scope": manifest["resource"]["scope"],
                },
            )
            assert response.status_code == 200
            assert http.get(manifest["admin_url"] + "requests").status_code == 200
            # The mtlsauth host and the resource answer too (errors, but from the service).
            mtls = http.post(
                f"{manifest['mtls_token_endpoint_base']}{manifest['tenant_id']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": app["client_id"],
                    "scope": manifest["resource"]["scope"],
                    "token_type": "mtls_pop",
                },
            )
            assert mtls.status_code == 401  # no client certificate presented
            assert mtls.json()["error_codes"] == [9900002]
            whoami = http.get(manifest["resource"]["base_url"] + "whoami")
            assert whoami.status_code == 401
            assert "www-authenticate" in whoami.headers
        assert httpx.get(manifest["imds_endpoint"] + "/metadata/none").status_code in (400, 404)
    finally:
        code = _stop(process, signal.SIGTERM)
    assert code == 0
    assert not manifest_path.exists()
    assert not env_path.exists()
    assert not Path(manifest["ca_bundle"]).exists()


def test_sigint_also_stops_cleanly(tmp_path: Path) -> None:
    process, _, _ = _start(tmp_path)
    assert _stop(process, signal.SIGINT) == 0
    assert b"Traceback" not in process.stderr.read()  # type: ignore[union-attr]


def test_files_are_written_atomically_without_leftover_temporaries(tmp_path: Path) -> None:
    process, manifest_path, _ = _start(tmp_path)
    try:
        json.loads(manifest_path.read_text())  # complete JSON the moment it exists
        leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
        assert leftovers == []
        assert oct(manifest_path.stat().st_mode & 0o777) == "0o600"
    finally:
        _stop(process, signal.SIGTERM)


def test_config_file_sets_tenant_and_work_dir(tmp_path: Path) -> None:
    config = tmp_path / "emulator.json"
    work = tmp_path / "work"
    config.write_text(
        json.dumps({"tenant_id": "11111111-2222-3333-4444-555555555555", "work_dir": str(work)})
    )
    process, manifest_path, _ = _start(tmp_path, "--config", str(config))
    try:
        manifest = json.loads(manifest_path.read_text())
        assert manifest["tenant_id"] == "11111111-2222-3333-4444-555555555555"
        assert Path(manifest["apps"][0]["certificate_pfx_path"]).parent == work.resolve()
    finally:
        _stop(process, signal.SIGTERM)
    assert work.exists()  # a work dir the user named is kept


def test_non_loopback_host_is_bad_usage(tmp_path: Path) -> None:
    everywhere = "0.0.0.0"  # noqa: S104 - the point: a non-loopback address is refused
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "identity_web", "emulator", "--host", everywhere],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"loopback" in result.stderr
    assert b"Traceback" not in result.stderr


def test_unknown_config_key_is_bad_usage(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text('{"tenant": "x"}')
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "identity_web", "emulator", "--config", str(config)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2
    assert b"tenant" in result.stderr
    assert b"Traceback" not in result.stderr


def test_config_from_mapping_rejects_unknown_keys() -> None:
    with pytest.raises(ConfigurationError, match="nope"):
        EmulatorConfig.from_mapping({"nope": 1})
    assert EmulatorConfig.from_mapping({"bound_tokens_disabled": []}).bound_tokens_disabled == ()


def test_env_value_with_spaces_is_quoted() -> None:
    assert dotenv({"A": "/tmp/x y", "B": "/plain"}) == 'A="/tmp/x y"\nB=/plain\n'
    assert os.sep == "/"


def test_start_failure_is_reported_and_releases_the_ports(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    emulator = Emulator(EmulatorConfig(work_dir=not_a_directory))
    with pytest.raises(EmulatorStartError, match="cannot start"):
        emulator.start()
    assert not emulator.running
    assert emulator.open_connections() == {}


def test_cli_start_failure_exits_1_without_traceback(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    config = tmp_path / "emulator.json"
    config.write_text(json.dumps({"work_dir": str(not_a_directory)}))
    result = subprocess.run(  # noqa: S603 - our own module, fixed arguments
        [sys.executable, "-m", "identity_web", "emulator", "--config", str(config)],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 1
    assert b"cannot start" in result.stderr
    assert b"Traceback" not in result.stderr
