"""The JSON Schema of appsettings files, generated from the models.

Committed as `config_schemas/appsettings.schema.json`; regenerate with
`identity-web config schema > config_schemas/appsettings.schema.json`.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import models_json_schema

from identity_web.settings._cache import SECTION as TOKEN_CACHE
from identity_web.settings._cache import TokenCacheOptions
from identity_web.settings._models import DownstreamApiOptions, MicrosoftIdentityApplicationOptions
from identity_web.settings._root import DEFAULT_SECTION, DOWNSTREAM_APIS

SCHEMA_ID = "urn:identity-web:config:appsettings.schema.json"
_REF = "#/$defs/{model}"


def build_schema() -> dict[str, Any]:
    """The schema as a dict (draft 2020-12)."""
    refs, definitions = models_json_schema(
        [
            (MicrosoftIdentityApplicationOptions, "validation"),
            (DownstreamApiOptions, "validation"),
            (TokenCacheOptions, "validation"),
        ],
        by_alias=True,
        ref_template=_REF,
    )
    app_ref = refs[(MicrosoftIdentityApplicationOptions, "validation")]
    api_ref = refs[(DownstreamApiOptions, "validation")]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "identity-web appsettings",
        "description": (
            "Settings of identity-web, with Microsoft.Identity.Web's keys. Keys are "
            "case-insensitive when loaded (this schema lists them as Identity.Web spells them). "
            f"'{DEFAULT_SECTION}' is the application; every other top-level section may be a "
            f"downstream API, as may every entry of '{DOWNSTREAM_APIS}'."
        ),
        "type": "object",
        "properties": {
            "$schema": {"type": "string"},
            DEFAULT_SECTION: app_ref,
            TOKEN_CACHE: refs[(TokenCacheOptions, "validation")],
            DOWNSTREAM_APIS: {
                "type": "object",
                "description": "Downstream APIs by name.",
                "additionalProperties": api_ref,
            },
        },
        "additionalProperties": {"anyOf": [api_ref, {}]},
        "$defs": _without_property_titles(definitions["$defs"]),
    }


def _without_property_titles(definitions: dict[str, Any]) -> dict[str, Any]:
    """pydantic titles properties 'Forcerefresh'; the key itself is the better title."""
    for definition in definitions.values():
        for prop in definition.get("properties", {}).values():
            prop.pop("title", None)
    return definitions


def schema_text() -> str:
    """The schema as the committed file holds it (2-space indent, trailing newline)."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
