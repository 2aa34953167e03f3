"""The committed JSON Schema is the one the models generate."""

from __future__ import annotations

import json
from pathlib import Path

from identity_web.settings import CredentialSource
from identity_web.settings._schema import SCHEMA_ID, build_schema, schema_text

COMMITTED = Path(__file__).resolve().parents[2] / "config_schemas" / "appsettings.schema.json"


def test_committed_schema_is_up_to_date() -> None:
    assert COMMITTED.is_file(), f"{COMMITTED} is missing"
    assert COMMITTED.read_text(encoding="utf-8") == schema_text(), (
        "config_schemas/appsettings.schema.json is stale; regenerate it with "
        "`identity-web config schema > config_schemas/appsettings.schema.json`"
    )


def test_schema_describes_the_sections_with_identity_web_keys() -> None:
    schema = build_schema()
    assert schema["$id"] == SCHEMA_ID
    assert schema["title"]
    definitions = schema["$defs"]
    app = definitions["MicrosoftIdentityApplicationOptions"]["properties"]
    assert {"Instance", "TenantId", "ClientId", "Authority", "SendX5C", "ClientCredentials"} <= set(
        app
    )
    assert schema["properties"]["AzureAd"] == {
        "$ref": "#/$defs/MicrosoftIdentityApplicationOptions"
    }
    api_ref = {"$ref": "#/$defs/DownstreamApiOptions"}
    assert schema["properties"]["DownstreamApis"]["additionalProperties"] == api_ref
    assert api_ref in schema["additionalProperties"]["anyOf"]
    source_type = definitions["CredentialDescription"]["properties"]["SourceType"]
    names, numbers = source_type["anyOf"]
    assert names["enum"] == [member.value for member in CredentialSource]
    assert (numbers["minimum"], numbers["maximum"]) == (0, 13)
    managed = definitions["AcquireTokenOptions"]["properties"]["ManagedIdentity"]
    assert {"$ref": "#/$defs/ManagedIdentityOptions"} in managed["anyOf"]
    assert "UserAssignedResourceId" in definitions["ManagedIdentityOptions"]["properties"]
    json.dumps(schema)  # serialisable
