"""`identity_web.__version__` and the distribution's metadata: version, classifiers, extras."""

from __future__ import annotations

from importlib import metadata

import identity_web


def test_version_is_the_installed_distributions() -> None:
    assert identity_web.__version__ == metadata.version("identity-web")
    assert identity_web.__version__[0].isdigit()


def test_metadata_declares_the_optional_bridges_and_classifiers() -> None:
    info = metadata.metadata("identity-web")
    assert {"azure", "requests", "dev"} <= set(info.get_all("Provides-Extra") or [])
    requires = metadata.requires("identity-web") or []
    assert any(r.startswith("azure-core") and 'extra == "azure"' in r for r in requires)
    assert any(r.startswith("requests") and 'extra == "requests"' in r for r in requires)
    classifiers = info.get_all("Classifier") or []
    assert "Typing :: Typed" in classifiers
    assert "Programming Language :: Python :: 3.11" in classifiers
