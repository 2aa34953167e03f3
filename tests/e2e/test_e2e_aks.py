"""AKS workload identity: only the variables the webhook injects, against the emulator, and
every example of docs/aks.md run."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from identity_web.emulator import Emulator, EmulatorManifest

DOC = Path(__file__).parents[2] / "docs" / "aks.md"
EXCHANGE = "api://AzureADTokenExchange"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def blocks(language: str) -> list[str]:
    pattern = re.compile(rf"^```{language}\n(.*?)^```", re.DOTALL | re.MULTILINE)
    return pattern.findall(DOC.read_text(encoding="utf-8"))


def projected_token(emulator: Emulator, directory: Path) -> Path:
    """What the webhook projects: a federated token the emulator trusts for the demo app."""
    system = emulator.state.find_managed_identity()
    assert system is not None
    path = directory / "azure-identity-token"
    path.write_text(
        emulator.state.mint_access_token(
            client_id=system.client_id, object_id=system.object_id, audience=EXCHANGE, appidacr="2"
        ),
        encoding="utf-8",
    )
    return path


def pod_environment(manifest: EmulatorManifest, token_file: Path) -> dict[str, str]:
    return {
        "SSL_CERT_FILE": manifest.ca_bundle,
        "AZURE_CLIENT_ID": manifest.apps[0].client_id,
        "AZURE_TENANT_ID": manifest.tenant_id,
        "AZURE_AUTHORITY_HOST": manifest.instance,
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
    }


def identity_web(
    directory: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    """The CLI with nothing but `env` (and PATH): no AzureAd section anywhere."""
    return subprocess.run(  # noqa: S603 - this interpreter, our own module
        [sys.executable, "-m", "identity_web", *args],
        env={"PATH": os.environ["PATH"], **env},
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_token_with_only_the_workload_identity_variables(
    emulator: Emulator, manifest: EmulatorManifest, tmp_path: Path
) -> None:
    env = pod_environment(manifest, projected_token(emulator, tmp_path))
    done = identity_web(tmp_path, env, "token", "--scope", manifest.resource.scope, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["token_type"] == "Bearer"
    assert report["claims"]["appid"] == manifest.apps[0].client_id
    assert report["claims"]["tid"] == manifest.tenant_id
    (post,) = emulator.requests("entra.token")
    assert post["form"]["client_assertion_type"] == JWT_BEARER
    assert post["form"]["client_id"] == manifest.apps[0].client_id


def test_without_the_token_file_variable_the_app_has_no_credential(
    emulator: Emulator, manifest: EmulatorManifest, tmp_path: Path
) -> None:
    env = pod_environment(manifest, projected_token(emulator, tmp_path))
    del env["AZURE_FEDERATED_TOKEN_FILE"]
    done = identity_web(tmp_path, env, "token", "--scope", manifest.resource.scope)
    assert done.returncode == 2
    assert "ClientCredentials" in done.stderr
    assert emulator.requests("entra.token") == []


def test_config_validate_names_the_variables(
    emulator: Emulator, manifest: EmulatorManifest, tmp_path: Path
) -> None:
    env = pod_environment(manifest, projected_token(emulator, tmp_path))
    done = identity_web(tmp_path, env, "config", "validate")
    assert done.returncode == 0, done.stderr
    for key, variable in [
        ("AzureAd.ClientId", "AZURE_CLIENT_ID"),
        ("AzureAd.TenantId", "AZURE_TENANT_ID"),
        ("AzureAd.Instance", "AZURE_AUTHORITY_HOST"),
        ("AzureAd.ClientCredentials[0].SignedAssertionFileDiskPath", "AZURE_FEDERATED_TOKEN_FILE"),
    ]:
        line = next(line for line in done.stdout.splitlines() if line.split()[:1] == [key])
        assert line.endswith(f"[env {variable}]")


def test_a_bound_scheme_is_refused_with_the_token_file(
    emulator: Emulator, manifest: EmulatorManifest, tmp_path: Path
) -> None:
    api = {"BaseUrl": manifest.resource.base_url, "Scopes": [manifest.resource.scope],
           "RequestAppToken": True, "ProtocolScheme": "MTLS_POP"}  # fmt: skip
    (tmp_path / "appsettings.json").write_text(json.dumps({"MyApi": api}), encoding="utf-8")
    env = pod_environment(manifest, projected_token(emulator, tmp_path))
    done = identity_web(tmp_path, env, "call", "MyApi")
    assert done.returncode == 2
    assert "IDW10115" in done.stderr


def test_the_aks_page_examples_run(
    emulator: Emulator,
    manifest: EmulatorManifest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (cluster,) = blocks("yaml")
    pod = list(yaml.safe_load_all(cluster))[1]
    assert pod["metadata"]["labels"]["azure.workload.identity/use"] == "true"
    (settings,) = blocks("json")
    config: dict[str, Any] = json.loads(settings)
    config["MyApi"].update(BaseUrl=manifest.resource.base_url, Scopes=[manifest.resource.scope])
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for name in [name for name in os.environ if "__" in name or name.startswith("AZURE_")]:
        monkeypatch.delenv(name)
    for name, value in pod_environment(manifest, projected_token(emulator, tmp_path)).items():
        monkeypatch.setenv(name, value)
    examples = blocks("python")
    assert len(examples) == 2
    for number, block in enumerate(examples, 1):
        exec(compile(block, f"{DOC.name} example {number}", "exec"), {})  # noqa: S102
    printed = capsys.readouterr().out.split()
    assert printed[:2] == ["200", manifest.apps[0].client_id]
    assert len(printed) == 3
    assert len(printed[2]) == 36  # the second emulator's demo app


def test_azure_client_id_selects_the_user_assigned_identity_of_a_managed_identity_section(
    emulator: Emulator, manifest: EmulatorManifest, tmp_path: Path
) -> None:
    user = next(mi for mi in manifest.managed_identities if mi.kind == "UserAssigned")
    api = {
        "BaseUrl": manifest.resource.base_url,
        "RelativePath": "whoami",
        "Scopes": [manifest.resource.scope],
        "AcquireTokenOptions": {"ManagedIdentity": {}},
    }
    (tmp_path / "appsettings.json").write_text(json.dumps({"MiApi": api}), encoding="utf-8")
    env = {**manifest.env(), "AZURE_CLIENT_ID": user.client_id}
    done = identity_web(tmp_path, env, "call", "MiApi", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["body"]["oid"] == user.object_id
    (imds,) = emulator.requests("imds.token")
    assert imds["query"]["client_id"] == user.client_id
