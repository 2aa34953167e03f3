"""The settings models: keys, enums, defaults, immutability, Authority vs Instance+TenantId."""

from __future__ import annotations

import logging

import pydantic
import pytest

from identity_web import ConfigurationError
from identity_web.settings import (
    CredentialDescription,
    CredentialSource,
    DownstreamApiOptions,
    IdentityWebSettings,
    ManagedIdentityOptions,
    MicrosoftIdentityApplicationOptions,
    ProtocolScheme,
)

App = MicrosoftIdentityApplicationOptions


def problems_of(data: dict[str, object], **kwargs: str) -> dict[str, str]:
    with pytest.raises(ConfigurationError) as caught:
        IdentityWebSettings.from_mapping(data, **kwargs)
    return {problem.path: problem.message for problem in caught.value.problems}


def test_keys_match_in_any_case_and_snake_case() -> None:
    app = App.model_validate(
        {"TENANTID": "t", "clientid": "c", "send_x5c": True, "SendX5c": True, "azureRegion": "r"}
    )
    assert (app.tenant_id, app.client_id, app.send_x5c, app.azure_region) == ("t", "c", True, "r")


def test_unknown_keys_are_ignored() -> None:
    app = App.model_validate({"ClientId": "c", "Domain": "contoso.com", "Whatever": {"x": 1}})
    assert app.client_id == "c"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Path", CredentialSource.Path),
        ("path", CredentialSource.Path),
        ("STOREWITHDISTINGUISHEDNAME", CredentialSource.StoreWithDistinguishedName),
        (3, CredentialSource.Path),
        ("7", CredentialSource.SignedAssertionFromManagedIdentity),
        (13, CredentialSource.StoreWithSubjectName),
        (0, CredentialSource.Certificate),
    ],
)
def test_source_type_binds_by_name_or_number(value: object, expected: CredentialSource) -> None:
    assert CredentialDescription.model_validate({"SourceType": value}).source_type is expected


def test_every_source_type_is_accepted_with_its_number() -> None:
    assert len(CredentialSource) == 14
    for number, member in enumerate(CredentialSource):
        assert member.number == number
        assert CredentialDescription(source_type=member).source_type is member


def test_misspelt_source_type_is_a_problem_with_a_suggestion() -> None:
    problems = problems_of(
        {"AzureAd": {"ClientCredentials": [{"SourceType": "ClientSecret"}, {"SourceType": "Pth"}]}}
    )
    message = problems["AzureAd.ClientCredentials[1].SourceType"]
    assert "'Pth'" in message
    assert "did you mean Path?" in message
    assert "StoreWithSubjectName" in message  # lists what is allowed


def test_empty_or_out_of_range_source_type_is_a_problem() -> None:
    problems = problems_of(
        {"AzureAd": {"ClientCredentials": [{"SourceType": ""}, {"SourceType": 14}, {}]}}
    )
    assert "not a SourceType" in problems["AzureAd.ClientCredentials[0].SourceType"]
    assert "0-13" in problems["AzureAd.ClientCredentials[1].SourceType"]
    assert problems["AzureAd.ClientCredentials[2].SourceType"] == "is required"


def test_every_problem_is_listed_at_once() -> None:
    problems = problems_of(
        {
            "AzureAd": {"SendX5C": "maybe", "Instance": "https:////", "ClientCredentials": {}},
            "MyApi": {"BaseUrl": "not a url", "RequestAppToken": "perhaps"},
        }
    )
    assert set(problems) == {
        "AzureAd.SendX5C",
        "AzureAd.Instance",
        "AzureAd.ClientCredentials",
        "MyApi.BaseUrl",
        "MyApi.RequestAppToken",
    }
    assert "found 'maybe'" in problems["AzureAd.SendX5C"]
    assert "true or false" in problems["AzureAd.SendX5C"]
    assert "wrap the object in [ ]" in problems["AzureAd.ClientCredentials"]


def test_secrets_never_appear_in_problems_or_reprs() -> None:
    problems = problems_of(
        {"AzureAd": {"ClientCredentials": [{"SourceType": "ClientSecret", "ClientSecret": ["s3"]}]}}
    )
    assert "s3" not in str(problems)
    description = CredentialDescription(
        source_type=CredentialSource.ClientSecret,
        client_secret="hunter2",
        certificate_password="p4",
    )
    assert "hunter2" not in repr(description)
    assert "p4" not in repr(description)


def test_near_miss_of_an_absent_known_key_is_a_problem() -> None:
    problems = problems_of({"AzureAd": {"ClientID2": "x", "TenantId": "t"}})
    assert problems == {"AzureAd.ClientID2": "unknown key; did you mean ClientId?"}


def test_an_unknown_key_is_an_error_even_when_the_known_key_is_present() -> None:
    problems = problems_of({"AzureAd": {"ClientID2": "x", "ClientId": "c"}})
    assert problems == {"AzureAd.ClientID2": "unknown key; did you mean ClientId?"}


def test_near_miss_is_found_in_nested_sections() -> None:
    problems = problems_of(
        {
            "AzureAd": {"ClientCredentials": [{"SourceType": "Path", "CertificateDiskPth": "a"}]},
            "MyApi": {"BaseUrl": "https://a", "AcquireTokenOptions": {"ManagedIdentty": {}}},
        }
    )
    assert problems == {
        "AzureAd.ClientCredentials[0].CertificateDiskPth": (
            "unknown key; did you mean CertificateDiskPath?"
        ),
        "MyApi.AcquireTokenOptions.ManagedIdentty": "unknown key; did you mean ManagedIdentity?",
    }


def test_identity_web_keys_we_do_not_use_are_not_near_misses() -> None:
    data = {"AzureAd": {"ClientCertificates": [], "ClientSecret": "x", "Domain": "d"}}
    assert IdentityWebSettings.from_mapping(data).azure_ad.client_credentials == ()


def test_models_are_frozen() -> None:
    app = App(client_id="c")
    with pytest.raises(pydantic.ValidationError):
        app.client_id = "other"  # type: ignore[misc]
    api = DownstreamApiOptions.model_validate({"ExtraHeaderParameters": {"a": "b"}})
    with pytest.raises(TypeError):
        api.extra_header_parameters["a"] = "c"  # type: ignore[index]
    assert isinstance(api.scopes, tuple)
    assert hash(api) == hash(
        DownstreamApiOptions.model_validate({"extraheaderparameters": {"a": "b"}})
    )


def test_downstream_defaults() -> None:
    api = DownstreamApiOptions()
    assert api.http_method == "Get"
    assert api.protocol_scheme == "Bearer"
    assert api.relative_path == ""
    assert api.accept_header == "application/json"
    assert api.content_type == "application/json"
    assert api.acquire_token_options.managed_identity is None
    assert not api.is_mtls_pop
    blank = DownstreamApiOptions.model_validate({"HttpMethod": "", "ProtocolScheme": None})
    assert (blank.http_method, blank.protocol_scheme) == ("Get", ProtocolScheme.BEARER)


@pytest.mark.parametrize(
    ("scheme", "bound"),
    [
        ("MTLS_POP", True),
        ("mtls_pop", True),
        (" Mtls_Pop ", True),
        ("Bearer", False),
        ("BEARER", False),
    ],
)
def test_is_mtls_pop(scheme: str, bound: bool) -> None:
    assert DownstreamApiOptions(protocol_scheme=scheme).is_mtls_pop is bound


@pytest.mark.parametrize("scheme", ["MTLS", "pop", "PoP", "mTLS", "Basic", "", " ", 42, True])
def test_every_other_protocol_scheme_is_refused(scheme: object) -> None:
    with pytest.raises(pydantic.ValidationError, match="allowed: Bearer, MTLS_POP"):
        DownstreamApiOptions.model_validate({"ProtocolScheme": scheme})


def test_scopes_as_a_string_are_split_on_spaces() -> None:
    api = DownstreamApiOptions.model_validate({"Scopes": "user.read  mail.read"})
    assert api.scopes == ("user.read", "mail.read")


def test_managed_identity_empty_object_is_system_assigned_and_distinct_from_absent() -> None:
    present = DownstreamApiOptions.model_validate({"AcquireTokenOptions": {"ManagedIdentity": {}}})
    absent = DownstreamApiOptions.model_validate({"AcquireTokenOptions": {}})
    identity = present.acquire_token_options.managed_identity
    assert identity == ManagedIdentityOptions()
    assert identity is not None
    assert identity.user_assigned_client_id is None
    assert absent.acquire_token_options.managed_identity is None


def test_managed_identity_accepts_one_user_assigned_id() -> None:
    options = ManagedIdentityOptions.model_validate({"UserAssignedResourceId": "/subscriptions/x"})
    assert options.user_assigned_resource_id == "/subscriptions/x"
    assert options != ManagedIdentityOptions()
    problems = problems_of(
        {
            "Api": {
                "BaseUrl": "https://a",
                "AcquireTokenOptions": {
                    "ManagedIdentity": {"UserAssignedClientId": "a", "UserAssignedObjectId": "b"}
                },
            }
        }
    )
    assert "at most one" in problems["Api.AcquireTokenOptions.ManagedIdentity"]


def test_correlation_id_must_be_a_guid() -> None:
    problems = problems_of(
        {"Api": {"BaseUrl": "https://a", "AcquireTokenOptions": {"CorrelationId": "x"}}}
    )
    assert "not a GUID" in problems["Api.AcquireTokenOptions.CorrelationId"]


# ---- Authority vs Instance + TenantId (Identity.Web MergedOptions behaviour) -----------------


@pytest.mark.parametrize(
    ("config", "instance", "tenant", "authority"),
    [
        (
            {"Instance": "https://login.microsoftonline.com", "TenantId": "contoso"},
            "https://login.microsoftonline.com/",
            "contoso",
            "https://login.microsoftonline.com/contoso/",
        ),
        (
            {"Authority": "https://login.microsoftonline.com/contoso/v2.0"},
            "https://login.microsoftonline.com/",
            "contoso",
            "https://login.microsoftonline.com/contoso/",
        ),
        (
            {"Authority": "https://localhost:8443/tenant-1/"},
            "https://localhost:8443/",
            "tenant-1",
            "https://localhost:8443/tenant-1/",
        ),
        (
            {"Authority": "https://contoso.ciamlogin.com"},
            "https://contoso.ciamlogin.com/",
            "contoso.onmicrosoft.com",
            "https://contoso.ciamlogin.com/contoso.onmicrosoft.com/",
        ),
        ({"Authority": "//v2.0"}, None, None, None),
        (
            {"Instance": "https://login.microsoftonline.us//"},
            "https://login.microsoftonline.us/",
            None,
            None,
        ),
        ({}, None, None, None),
    ],
)
def test_effective_authority(
    config: dict[str, str], instance: str | None, tenant: str | None, authority: str | None
) -> None:
    app = App.model_validate(config)
    assert app.effective_instance() == instance
    assert app.effective_tenant_id() == tenant
    assert app.effective_authority() == authority


def test_instance_and_tenant_win_over_authority_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="identity_web.settings"):
        app = App.model_validate(
            {
                "Authority": "https://login.microsoftonline.com/other/v2.0",
                "Instance": "https://login.microsoftonline.com/",
                "TenantId": "contoso",
            }
        )
    assert app.effective_authority() == "https://login.microsoftonline.com/contoso/"
    assert any("is ignored" in record.getMessage() for record in caplog.records)


def test_tenant_alone_also_beats_authority() -> None:
    app = App.model_validate(
        {"Authority": "https://login.microsoftonline.com/other", "TenantId": "t"}
    )
    assert app.effective_tenant_id() == "t"
    assert app.effective_instance() is None


def test_dsts_authority_is_rejected() -> None:
    problems = problems_of(
        {"AzureAd": {"Authority": "https://co-dsts.dsts.core.windows.net/dstsv2/t"}}
    )
    assert "dSTS" in problems["AzureAd.Authority"]


def test_section_name_is_a_parameter() -> None:
    settings = IdentityWebSettings.from_mapping(
        {"AzureAd": {"ClientId": "a"}, "Other": {"ClientId": "b"}}, section="other"
    )
    assert settings.azure_ad.client_id == "b"


# ---- downstream API lookup -----------------------------------------------------------------


def test_downstream_api_lookup_top_level_and_downstream_apis_case_insensitively() -> None:
    settings = IdentityWebSettings.from_mapping(
        {
            "MyApi": {"BaseUrl": "https://top", "Scopes": ["a/.default"]},
            "downstreamapis": {
                "Graph": {"BaseUrl": "https://graph"},
                "MyApi": {"BaseUrl": "https://x"},
            },
        }
    )
    assert settings.downstream_api("myapi").base_url == "https://top"
    assert settings.downstream_api("GRAPH").base_url == "https://graph"
    assert set(settings.downstream_api_names()) == {"MyApi", "Graph"}


def test_a_named_section_without_markers_is_still_found_by_name() -> None:
    settings = IdentityWebSettings.from_mapping({"Plain": {"HttpMethod": "Post"}})
    assert "Plain" not in settings.downstream_api_names()
    assert settings.downstream_api("plain").http_method == "Post"


def test_a_section_read_as_a_downstream_api_is_strict_about_its_keys() -> None:
    settings = IdentityWebSettings.from_mapping(
        {"Plain": {"Scopes": ["x/.default"], "ClientId": "c"}}
    )
    assert "Plain" not in settings.downstream_api_names()  # ClientId: an application section
    with pytest.raises(ConfigurationError) as caught:
        settings.downstream_api("plain")
    assert [p.path for p in caught.value.problems] == ["Plain.ClientId"]


def test_missing_downstream_api_names_the_section() -> None:
    settings = IdentityWebSettings.from_mapping({"MyApi": {"BaseUrl": "https://a"}})
    with pytest.raises(ConfigurationError) as caught:
        settings.downstream_api("MyAPl")
    (problem,) = caught.value.problems
    assert problem.path == "MyAPl"
    assert "did you mean MyApi?" in problem.message


def test_invalid_downstream_api_found_by_name_raises_with_its_path() -> None:
    settings = IdentityWebSettings.from_mapping({"Odd": {"Scopes": {"x": 1}, "ClientId": "c"}})
    with pytest.raises(ConfigurationError) as caught:
        settings.downstream_api("odd")
    assert sorted(p.path for p in caught.value.problems) == ["Odd.ClientId", "Odd.Scopes"]


def test_raw_configuration_is_kept_case_insensitive_and_read_only() -> None:
    settings = IdentityWebSettings.from_mapping({"Logging": {"LogLevel": {"Default": "Warning"}}})
    assert settings.raw["logging"]["loglevel"]["DEFAULT"] == "Warning"
    with pytest.raises(TypeError):
        settings.raw["x"] = 1  # type: ignore[index]


def test_null_means_not_set() -> None:
    app = App.model_validate(
        {"ClientCredentials": None, "SendX5C": None, "ClientCapabilities": None, "TenantId": None}
    )
    assert (app.client_credentials, app.send_x5c, app.client_capabilities) == ((), False, ())
    api = DownstreamApiOptions.model_validate(
        {"AcquireTokenOptions": {"ManagedIdentity": None}, "Scopes": None, "AcceptHeader": None}
    )
    assert api.acquire_token_options.managed_identity is None
    assert api.accept_header == "application/json"
