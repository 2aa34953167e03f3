"""Managed identity and FIC through the acquirer, against the emulator's IMDS and Entra (tier 2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from acquisition_helpers import token_posts

from identity_web import TokenSource
from identity_web.acquisition import TokenAcquirer, TokenRequestOptions
from identity_web.cache import InMemoryTokenCache
from identity_web.credentials import AssertionCredential, CredentialsProvider
from identity_web.credentials.managed_identity_assertion import (
    SignedAssertionFromManagedIdentityLoader,
)
from identity_web.emulator import Emulator
from identity_web.managed_identity import ManagedIdentityClient, SoftwareAttestationProvider
from identity_web.protocol.steps import Step
from identity_web.settings import (
    CredentialDescription,
    CredentialSource,
    ManagedIdentityOptions,
    MicrosoftIdentityApplicationOptions,
)
from identity_web.transport import HttpTransport


@pytest.fixture
def mi_client(identity_web_emulator: Emulator) -> ManagedIdentityClient:
    environ = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": identity_web_emulator.manifest.imds_endpoint}
    # the emulator requires attested IMDS v2 keys (its default `required` mode)
    return ManagedIdentityClient(
        environ=environ, retry_scale=0.01, attestation=SoftwareAttestationProvider()
    )


def fic_credential(
    mi_client: ManagedIdentityClient, transport: HttpTransport
) -> AssertionCredential:
    """The real FIC credential, loaded as the container loads it (with the warm-up call)."""
    loader = SignedAssertionFromManagedIdentityLoader(mi_client, warm_up=True)
    description = CredentialDescription.model_validate(
        {"SourceType": "SignedAssertionFromManagedIdentity"}
    )
    provider = CredentialsProvider(
        [description], {CredentialSource.SignedAssertionFromManagedIdentity: loader}
    )
    credential = transport.run(provider.selected())
    assert isinstance(credential, AssertionCredential)
    return credential


@dataclass
class OneCredential:
    credential: Any

    @property
    def current(self) -> Any:
        return self.credential

    current_bound = current

    def selected(self, bound: bool = False) -> Step[Any]:
        return self.credential
        yield  # a step that needs nothing

    def reject_selected(self, codes: str, *, bound: bool) -> bool:
        return False

    def record_rejection(self, codes: str, *, bound: bool) -> None:
        pass

    def reset(self) -> None:
        pass

    def watch(self, changed: Any) -> None:
        pass  # the one credential is never replaced


def acquirer(
    emulator: Emulator, transport: HttpTransport, mi_client: ManagedIdentityClient, credentials: Any
) -> TokenAcquirer:
    manifest = emulator.manifest
    app = MicrosoftIdentityApplicationOptions.model_validate(
        {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": manifest.apps[0].client_id,
        }
    )
    return TokenAcquirer(
        app, credentials, transport, InMemoryTokenCache(), mi_client, retry_scale=0.01, environ={}
    )


def whoami(transport: HttpTransport, emulator: Emulator, result: Any) -> Any:
    client = transport.client_for(result.binding_certificate)
    url = emulator.manifest.resource.base_url + "whoami"
    response = client.get(url, headers={"Authorization": result.authorization_header})
    assert response.status_code == 200, response.text
    return response.json()


def test_managed_identity_mtls_pop_is_bound_and_cached_with_its_certificate(
    emulator: Emulator, transport: HttpTransport, mi_client: ManagedIdentityClient
) -> None:
    tokens = acquirer(emulator, transport, mi_client, None)
    scope = emulator.manifest.resource.scope
    options = TokenRequestOptions(managed_identity=ManagedIdentityOptions())
    first = tokens.acquire_token_for_app(scope, options, bound=True)
    assert first.token_type == "mtls_pop"
    assert first.binding_certificate is not None
    claims = whoami(transport, emulator, first)
    assert claims["cnf_x5t_s256"] == first.binding_certificate.x5t_s256
    second = tokens.acquire_token_for_app(scope, options, bound=True)
    assert second.token_source is TokenSource.CACHE
    assert second.binding_certificate is first.binding_certificate
    bearer = tokens.acquire_token_for_app(scope, options)
    assert bearer.token_type == "Bearer"
    assert bearer.binding_certificate is None
    assert whoami(transport, emulator, bearer)["bound"] is False


def test_fic_bearer_redeems_a_managed_identity_token_at_the_login_host(
    emulator: Emulator, transport: HttpTransport, mi_client: ManagedIdentityClient
) -> None:
    credential = fic_credential(mi_client, transport)
    tokens = acquirer(emulator, transport, mi_client, OneCredential(credential))
    result = tokens.acquire_token_for_app(emulator.manifest.resource.scope)
    assert result.token_type == "Bearer"
    (post,) = token_posts(emulator)
    assert post["endpoint"] == "entra.token"
    assert post["form"]["client_assertion_type"].endswith(":jwt-bearer")
    assert whoami(transport, emulator, result)["appid"] == emulator.manifest.apps[0].client_id


def test_fic_mtls_pop_presents_the_managed_identity_certificate_with_jwt_pop(
    emulator: Emulator, transport: HttpTransport, mi_client: ManagedIdentityClient
) -> None:
    credential = fic_credential(mi_client, transport)
    tokens = acquirer(emulator, transport, mi_client, OneCredential(credential))
    scope = emulator.manifest.resource.scope
    result = tokens.acquire_token_for_app(scope, bound=True)
    assert result.token_type == "mtls_pop"
    assert result.binding_certificate is not None
    thumbprint = result.binding_certificate.x5t_s256
    leg1, leg2 = token_posts(emulator)
    assert leg1["client_cert_x5t_s256"] == thumbprint
    assert leg2["endpoint"] == "entra.mtls_token"
    assert leg2["client_cert_x5t_s256"] == thumbprint
    assert leg2["form"]["client_assertion_type"].endswith(":jwt-pop")
    assert leg2["form"]["token_type"] == "mtls_pop"
    claims = whoami(transport, emulator, result)
    assert claims["cnf_x5t_s256"] == thumbprint
    assert claims["appid"] == emulator.manifest.apps[0].client_id
    assert tokens.acquire_token_for_app(scope, bound=True).token_source is TokenSource.CACHE
