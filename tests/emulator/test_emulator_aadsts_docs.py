"""Every AADSTS code the emulator answers with is documented, and its own codes stand apart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from identity_web.emulator import _aadsts

DOCS = Path(__file__).resolve().parents[2] / "docs" / "emulator.md"
OWN_RANGE = range(9_900_000, 9_900_100)


@pytest.mark.parametrize("spec", _aadsts.ALL, ids=lambda spec: str(spec.code))
def test_each_code_is_in_docs_emulator_md(spec: _aadsts.Aadsts) -> None:
    documented = set(re.findall(r"(?<!\d)(\d{5,7})(?!\d)", DOCS.read_text(encoding="utf-8")))
    assert str(spec.code) in documented


@pytest.mark.parametrize("spec", _aadsts.ALL, ids=lambda spec: str(spec.code))
def test_only_the_emulators_own_codes_use_the_99000xx_range(spec: _aadsts.Aadsts) -> None:
    assert (spec.code in OWN_RANGE) == spec.chosen


def test_all_lists_every_code_defined_in_the_module() -> None:
    defined = {value for value in vars(_aadsts).values() if isinstance(value, _aadsts.Aadsts)}
    assert defined == set(_aadsts.ALL)
