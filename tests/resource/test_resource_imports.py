"""The calling side does not pay for the resource side, nor the resource core for frameworks."""

from __future__ import annotations

import json
import subprocess
import sys


def _modules_after(statement: str) -> set[str]:
    probe = f"import json, sys; {statement}; print(json.dumps(sorted(sys.modules)))"
    output = subprocess.run(  # noqa: S603 - the test interpreter, fixed statements
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    return set(json.loads(output))


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
