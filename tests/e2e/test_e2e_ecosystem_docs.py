"""Every Python example of docs/ecosystem.md runs, in order, against the emulator."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from e2e_helpers import API, certificate_config

from identity_web.emulator import EmulatorManifest

DOC = Path(__file__).parents[2] / "docs" / "ecosystem.md"
_PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def test_the_ecosystem_page_examples_run(
    manifest: EmulatorManifest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = certificate_config(manifest)
    config["MyPopApi"] = {**config.pop(API), "ProtocolScheme": "MTLS_POP"}
    config["MyApi"] = {k: v for k, v in config["MyPopApi"].items() if k != "ProtocolScheme"}
    (tmp_path / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    for key, value in manifest.env().items():
        monkeypatch.setenv(key, value)
    blocks = _PYTHON_BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert len(blocks) == 8
    namespace: dict[str, object] = {"account_url": manifest.resource.base_url}
    for number, block in enumerate(blocks, 1):
        code = compile(block, f"{DOC.name} example {number}", "exec")
        exec(code, namespace)  # noqa: S102 - the documentation's own examples
    assert getattr(namespace["blobs"], "credential", None) is namespace["credential"]
