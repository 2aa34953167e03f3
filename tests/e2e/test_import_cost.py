"""Importing the package (and so the pytest plugin every pytest run loads) stays cheap."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import identity_web
import identity_web.emulator

HEAVY = ("httpx", "cryptography", "pydantic", "dependency_injector", "identity_web._factory")


def _modules_after(statement: str) -> set[str]:
    probe = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(  # noqa: S603 - the test interpreter, fixed statements
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return set(json.loads(output))


def test_loading_the_pytest_plugin_imports_none_of_the_stack() -> None:
    loaded = _modules_after("import identity_web.emulator.pytest_plugin")
    assert "identity_web" in loaded
    assert sorted(name for name in HEAVY if name in loaded) == []


def test_a_public_name_imports_its_module_on_first_use() -> None:
    loaded = _modules_after("from identity_web import TokenAcquirerFactory")
    assert "identity_web._factory" in loaded


#: Everything of ours `from identity_web import TokenAcquirerFactory` may import; the rest of
#: the stack (settings models, container, httpx, cryptography) waits until a factory is made.
FACTORY_IMPORT = {
    "identity_web",
    "identity_web._errors",
    "identity_web._factory",
    "identity_web._lazy",
}


def test_importing_the_factory_imports_only_the_standard_library_and_four_modules() -> None:
    baseline = _modules_after("pass")
    loaded = _modules_after("from identity_web import TokenAcquirerFactory") - baseline
    ours = {name for name in loaded if name.split(".")[0] == "identity_web"}
    assert ours == FACTORY_IMPORT
    foreign = {
        name
        for name in loaded - ours
        if name.split(".")[0] not in sys.stdlib_module_names and not name.startswith("_")
    }
    assert foreign == set()
    assert {"asyncio", "ssl", "json"} & loaded == set()


def test_making_a_factory_loads_the_stack() -> None:
    loaded = _modules_after(
        "from identity_web import TokenAcquirerFactory; "
        "from identity_web.settings import IdentityWebSettings; "
        "TokenAcquirerFactory(IdentityWebSettings.from_mapping({}))"
    )
    assert {"identity_web.container", "dependency_injector", "httpx"} <= loaded


def test_the_factory_default_section_is_the_settings_default_section() -> None:
    from identity_web._factory import DEFAULT_SECTION  # noqa: PLC0415
    from identity_web.settings import DEFAULT_SECTION as SETTINGS_DEFAULT  # noqa: PLC0415

    assert DEFAULT_SECTION == SETTINGS_DEFAULT


def test_lazy_names_are_the_real_objects() -> None:
    from identity_web._factory import TokenAcquirerFactory  # noqa: PLC0415
    from identity_web.emulator._emulator import Emulator  # noqa: PLC0415

    assert identity_web.TokenAcquirerFactory is TokenAcquirerFactory
    assert identity_web.emulator.Emulator is Emulator
    assert set(identity_web.__all__) <= set(dir(identity_web))


@pytest.mark.parametrize("module", [identity_web, identity_web.emulator])
def test_unknown_names_still_raise_attribute_error(module: object) -> None:
    with pytest.raises(AttributeError, match="NoSuchName"):
        getattr(module, "NoSuchName")  # noqa: B009 - the name is the point of the test


# -- the resource side (identity_web.resource) ---------------------------------------------


def test_the_token_acquirer_factory_does_not_import_pyjwt_or_the_resource_package() -> None:
    loaded = _modules_after("from identity_web import TokenAcquirerFactory; TokenAcquirerFactory")
    assert "identity_web._factory" in loaded
    assert {"jwt", "identity_web.resource"} & loaded == set()


def test_the_resource_core_imports_no_web_framework() -> None:
    loaded = _modules_after("from identity_web.resource import ProtectedWebApi")
    assert "jwt" in loaded
    assert {"fastapi", "starlette", "flask", "werkzeug"} & loaded == set()


def test_a_resource_error_from_the_root_imports_only_the_errors() -> None:
    loaded = _modules_after("from identity_web import TokenValidationError")
    assert "identity_web.resource._errors" in loaded
    assert "jwt" not in loaded
