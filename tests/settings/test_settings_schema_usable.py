"""The committed JSON Schema works as an editor would use it: a valid draft 2020-12 schema that
accepts real settings files (with their `"$schema"` key) and flags what the loader refuses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from identity_web.settings._jsonc import loads

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "config_schemas" / "appsettings.schema.json").read_text("utf-8"))
SAMPLES = sorted((ROOT / "samples").glob("*/appsettings.json"))


@pytest.fixture(scope="module")
def validator() -> Draft202012Validator:
    Draft202012Validator.check_schema(SCHEMA)
    return Draft202012Validator(SCHEMA)


def errors(validator: Draft202012Validator, document: Any) -> list[str]:
    return [
        "/".join(str(part) for part in error.absolute_path)
        for error in validator.iter_errors(document)
    ]


def test_the_samples_exist() -> None:
    assert len(SAMPLES) >= 4


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda path: path.parent.name)
def test_every_sample_validates_with_a_schema_key(
    validator: Draft202012Validator, sample: Path
) -> None:
    document = loads(sample.read_text(encoding="utf-8-sig"))
    document["$schema"] = "../../config_schemas/appsettings.schema.json"
    assert errors(validator, document) == []


def test_the_schema_flags_what_the_loader_refuses(validator: Draft202012Validator) -> None:
    document = {
        "AzureAd": {"ClientCredentials": [{"SourceType": "Pth"}], "SendX5C": "maybe"},
        "DownstreamApis": {"Graph": {"Scopes": 42}},
    }
    assert sorted(errors(validator, document)) == [
        "AzureAd/ClientCredentials/0/SourceType",
        "AzureAd/SendX5C",
        "DownstreamApis/Graph/Scopes",
    ]
    assert errors(validator, {"AzureAd": {"ClientCredentials": [{"SourceType": 3}]}}) == []
