"""Per-call overrides: merged into a copy, validated, never mutating the configured options."""

from __future__ import annotations

import pytest

from identity_web import ConfigurationError
from identity_web.downstream._options import apply_overrides, for_app_verb, with_claims
from identity_web.settings import DownstreamApiOptions, ManagedIdentityOptions

CONFIGURED = DownstreamApiOptions.model_validate(
    {
        "BaseUrl": "https://api.example/",
        "RelativePath": "items",
        "Scopes": ["api://res/.default"],
        "ProtocolScheme": "MTLS_POP",
        "RequestAppToken": True,
        "ExtraHeaderParameters": {"X-Keep": "1", "X-Replace": "old"},
        "ExtraQueryParameters": {"a": "1"},
        "AcquireTokenOptions": {"Tenant": "t1", "ExtraQueryParameters": {"dc": "x"}},
    }
)
SNAPSHOT = CONFIGURED.model_dump()


def test_no_override_returns_the_configured_object() -> None:
    assert apply_overrides(CONFIGURED, None, api="A") is CONFIGURED
    assert apply_overrides(CONFIGURED, {}, api="A") is CONFIGURED


def test_scalars_replace_and_maps_merge_with_override_winning() -> None:
    effective = apply_overrides(
        CONFIGURED,
        {
            "relativepath": "items/7",
            "HttpMethod": "Delete",
            "ExtraHeaderParameters": {"x-replace": "new", "X-Add": "2"},
            "extra_query_parameters": {"b": "2"},
        },
        api="A",
    )
    assert effective.relative_path == "items/7"
    assert effective.http_method == "Delete"
    assert dict(effective.extra_header_parameters) == {
        "X-Keep": "1",
        "x-replace": "new",
        "X-Add": "2",
    }
    assert dict(effective.extra_query_parameters) == {"a": "1", "b": "2"}
    assert effective.is_mtls_pop
    assert CONFIGURED.model_dump() == SNAPSHOT


def test_acquire_token_options_merge_field_by_field() -> None:
    effective = apply_overrides(
        CONFIGURED,
        {"AcquireTokenOptions": {"ForceRefresh": True, "ExtraQueryParameters": {"slice": "s"}}},
        api="A",
    )
    acquire = effective.acquire_token_options
    assert acquire.tenant == "t1"
    assert acquire.force_refresh
    assert dict(acquire.extra_query_parameters) == {"dc": "x", "slice": "s"}
    assert CONFIGURED.model_dump() == SNAPSHOT


def test_override_dicts_given_by_the_caller_are_not_kept_by_reference() -> None:
    headers = {"X-Late": "1"}
    effective = apply_overrides(CONFIGURED, {"ExtraHeaderParameters": headers}, api="A")
    headers["X-Late"] = "changed"
    assert effective.extra_header_parameters["X-Late"] == "1"


def test_unknown_override_key_is_a_configuration_error_naming_it() -> None:
    with pytest.raises(ConfigurationError, match="RelativPath"):
        apply_overrides(CONFIGURED, {"RelativPath": "x"}, api="MyApi")


def test_invalid_override_value_is_reported_with_its_key_path() -> None:
    with pytest.raises(ConfigurationError, match="BaseUrl"):
        apply_overrides(CONFIGURED, {"BaseUrl": "not a url"}, api="MyApi")


def test_verb_helpers_force_the_method_and_an_app_token() -> None:
    user = DownstreamApiOptions.model_validate({"BaseUrl": "https://h/", "RequestAppToken": False})
    forced = for_app_verb(user, "PATCH")
    assert (forced.http_method, forced.request_app_token) == ("PATCH", True)
    assert (user.http_method, user.request_app_token) == ("Get", False)


def test_claims_go_into_acquire_token_options_of_a_copy() -> None:
    retried = with_claims(CONFIGURED, '{"access_token":{}}')
    assert retried.acquire_token_options.claims == '{"access_token":{}}'
    assert retried.acquire_token_options.tenant == "t1"
    assert CONFIGURED.acquire_token_options.claims is None


def test_managed_identity_is_replaced_as_a_whole_and_kept_otherwise() -> None:
    configured = DownstreamApiOptions.model_validate(
        {
            "BaseUrl": "https://h/",
            "AcquireTokenOptions": {"ManagedIdentity": {"UserAssignedClientId": "cid"}},
        }
    )
    kept = apply_overrides(configured, {"AcquireTokenOptions": {"Tenant": "t"}}, api="A")
    assert kept.acquire_token_options.managed_identity is not None
    assert kept.acquire_token_options.managed_identity.user_assigned_client_id == "cid"
    replaced = apply_overrides(
        configured,
        {"AcquireTokenOptions": {"ManagedIdentity": {"UserAssignedObjectId": "oid"}}},
        api="A",
    )
    identity = replaced.acquire_token_options.managed_identity
    assert identity is not None
    assert (identity.user_assigned_client_id, identity.user_assigned_object_id) == (None, "oid")
    system = apply_overrides(configured, {"AcquireTokenOptions": {"ManagedIdentity": {}}}, api="A")
    assert system.acquire_token_options.managed_identity == ManagedIdentityOptions()
