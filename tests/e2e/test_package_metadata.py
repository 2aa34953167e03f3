"""`identity_web.__version__` and the distribution's metadata: version, classifiers, extras."""

from __future__ import annotations

import sys
from importlib import metadata

import pytest
from e2e_helpers import API, build, certificate_config

import identity_web
from identity_web.emulator import EmulatorManifest


def test_version_is_the_installed_distributions() -> None:
    assert identity_web.__version__ == metadata.version("identity-web")
    assert identity_web.__version__[0].isdigit()


def test_metadata_declares_the_optional_bridges_and_classifiers() -> None:
    info = metadata.metadata("identity-web")
    assert {"azure", "requests", "dev"} <= set(info.get_all("Provides-Extra") or [])
    requires = metadata.requires("identity-web") or []
    assert any(r.startswith("azure-core") and 'extra == "azure"' in r for r in requires)
    assert any(r.startswith("requests") and 'extra == "requests"' in r for r in requires)
    assert any(r.startswith("opentelemetry-api") and 'extra == "otel"' in r for r in requires)
    classifiers = info.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers


EXTRAS = {"azure_core": "azure", "requests_client": "requests"}


@pytest.mark.parametrize(
    ("method", "blocked", "adapter"),
    [
        ("token_credential", "azure.core.credentials", "azure_core"),
        ("async_token_credential", "azure.core.exceptions", "azure_core"),
        ("requests_auth", "requests", "requests_client"),
    ],
)
def test_a_missing_optional_dependency_names_the_extra_that_installs_it(
    method: str,
    blocked: str,
    adapter: str,
    manifest: EmulatorManifest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, blocked, None)  # `import` now fails as if not installed
    monkeypatch.delitem(sys.modules, f"identity_web.adapters.{adapter}", raising=False)
    installs = rf"pip install 'identity-web\[{EXTRAS[adapter]}\]'"
    with (
        build(certificate_config(manifest), manifest) as services,
        pytest.raises(ImportError, match=installs),
    ):
        getattr(services, method)(API)
