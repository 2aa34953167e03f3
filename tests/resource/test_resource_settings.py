"""The web API keys of the AzureAd section bind from files and environment variables."""

from __future__ import annotations

import json
from pathlib import Path

from identity_web.resource import ProtectedWebApi
from identity_web.settings import MicrosoftIdentityApplicationOptions, load_settings


def test_web_api_keys_bind_from_appsettings_and_environment(tmp_path: Path) -> None:
    section = {
        "Instance": "https://login.microsoftonline.com/",
        "TenantId": "organizations",
        "ClientId": "6e74172b-be56-4843-9ff4-e66a39bb12e3",
        "allowWebApiToBeAuthorizedByAcl": True,
        "TokenValidationParameters": {"ValidIssuers": ["https://issuer.example/{tenantid}/"]},
    }
    (tmp_path / "appsettings.json").write_text(json.dumps({"AzureAd": section}), "utf-8")
    environ = {
        "AzureAd__RequireBoundTokens": "true",
        "AzureAd__TokenValidationParameters__ValidAudiences__0": "api://extra",
        "AzureAd__ClientCertificateHeader": "X-ARR-ClientCert",
    }
    azure_ad = load_settings(tmp_path, environ=environ).settings.azure_ad
    assert azure_ad.allow_web_api_to_be_authorized_by_acl is True
    assert azure_ad.require_bound_tokens is True
    assert azure_ad.token_validation_parameters.valid_audiences == ("api://extra",)
    assert azure_ad.client_certificate_header == "X-ARR-ClientCert"
    api = ProtectedWebApi.from_settings(azure_ad)
    options = api.validator.options
    assert options.require_bound_tokens
    assert options.allow_acl_authorization
    assert options.tenant_id is None  # multi-tenant
    assert "api://extra" in options.audiences
    assert api.certificates.header == "X-ARR-ClientCert"


def test_the_defaults_accept_only_bearer_and_bound_tokens_with_scp_or_roles() -> None:
    azure_ad = MicrosoftIdentityApplicationOptions()
    assert azure_ad.require_bound_tokens is False
    assert azure_ad.allow_web_api_to_be_authorized_by_acl is False
    assert azure_ad.client_certificate_header is None
    assert MicrosoftIdentityApplicationOptions.canonical_key("allowwebapitobeauthorizedbyacl") == (
        "AllowWebApiToBeAuthorizedByACL"
    )
