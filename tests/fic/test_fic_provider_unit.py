"""The SignedAssertionFromManagedIdentity provider and loader, without network (tier 1)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeVar

import pytest
from fic_helpers import EXCHANGE, NOW, ScriptedManagedIdentity, fake_jwt, make_certificate
from testkit import offline

from identity_web import (
    FederatedCredentialError,
    ManagedIdentityError,
    ServiceError,
    TokenTypeMismatchError,
)
from identity_web.acquisition._fic import explain_federation_failure
from identity_web.credentials import (
    AssertionCredential,
    ClientSecretLoader,
    CredentialsProvider,
    SignedAssertion,
)
from identity_web.credentials.managed_identity_assertion import (
    DEFAULT_EXPIRY_MARGIN,
    ManagedIdentityAssertionError,
    ManagedIdentityAssertionProvider,
    SignedAssertionFromManagedIdentityLoader,
    exchange_scope,
)
from identity_web.protocol.imds import ManagedIdentityId
from identity_web.protocol.oauth2 import ClientCredentialsRequest
from identity_web.protocol.rfc7523 import unverified_claims
from identity_web.protocol.steps import Step
from identity_web.settings import CredentialDescription, CredentialSource

T = TypeVar("T")


drive = offline  # the real sync driver; the steps here must not send anything


def assertion(provider: ManagedIdentityAssertionProvider, *, bound: bool, now: float) -> Any:
    return drive(provider.assertion_flow(bound=bound, now=now))


def description(**values: Any) -> CredentialDescription:
    return CredentialDescription.model_validate(
        {"SourceType": "SignedAssertionFromManagedIdentity", **values}
    )


# -- the exchange scope ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "scope"),
    [
        (None, "api://AzureADTokenExchange/.default"),
        ("", "api://AzureADTokenExchange/.default"),
        ("api://AzureADTokenExchange", "api://AzureADTokenExchange/.default"),
        ("api://AzureADTokenExchange/", "api://AzureADTokenExchange/.default"),
        ("api://AzureADTokenExchangeChina//", "api://AzureADTokenExchangeChina/.default"),
        (" api://AzureADTokenExchange/.default ", "api://AzureADTokenExchange/.default"),
    ],
)
def test_the_scope_is_the_token_exchange_url_plus_default(setting: str | None, scope: str) -> None:
    assert exchange_scope(setting) == scope
    client = ScriptedManagedIdentity()
    provider = ManagedIdentityAssertionProvider(client, token_exchange_url=setting)
    assertion(provider, bound=False, now=NOW)
    assert client.calls == [(None, scope, False)]


# -- caching -----------------------------------------------------------------------------------


def test_bearer_assertion_is_kept_until_five_minutes_before_its_expiry() -> None:
    client = ScriptedManagedIdentity(lifetime=3600)
    provider = ManagedIdentityAssertionProvider(client)
    first = assertion(provider, bound=False, now=NOW)
    assert isinstance(first, SignedAssertion)
    assert first.binding_certificate is None
    assert first.expires_on == NOW + 3600
    assert assertion(provider, bound=False, now=NOW + 3600 - DEFAULT_EXPIRY_MARGIN - 1) is first
    renewed = assertion(provider, bound=False, now=NOW + 3600 - DEFAULT_EXPIRY_MARGIN)
    assert renewed is not first
    assert len(client.calls) == 2


def test_expiry_is_the_earlier_of_the_jwt_exp_and_the_response() -> None:
    class ShortJwt(ScriptedManagedIdentity):
        def token_flow(self, *args: Any, **kwargs: Any) -> Step[Any]:
            token = yield from super().token_flow(*args, **kwargs)
            return replace(token, access_token=fake_jwt(exp=NOW + 600))

    provider = ManagedIdentityAssertionProvider(ShortJwt(lifetime=86400))
    assert assertion(provider, bound=False, now=NOW).expires_on == NOW + 600


def test_bound_and_bearer_assertions_are_kept_apart() -> None:
    certificate = make_certificate()
    client = ScriptedManagedIdentity(certificate=certificate)
    provider = ManagedIdentityAssertionProvider(client)
    bearer = assertion(provider, bound=False, now=NOW)
    bound = assertion(provider, bound=True, now=NOW)
    assert bound.binding_certificate is certificate
    assert bearer.binding_certificate is None
    assert assertion(provider, bound=True, now=NOW + 60) is bound
    assert assertion(provider, bound=False, now=NOW + 60) is bearer
    assert [call[2] for call in client.calls] == [False, True]


def test_bound_assertion_is_not_reused_once_its_certificate_nears_expiry() -> None:
    certificate = make_certificate(days=0.25)  # 6 h, shorter than the token
    client = ScriptedManagedIdentity(lifetime=86400, certificate=certificate)
    provider = ManagedIdentityAssertionProvider(client)
    first = assertion(provider, bound=True, now=NOW)
    cert_end = certificate.not_after.timestamp()
    assert assertion(provider, bound=True, now=cert_end - DEFAULT_EXPIRY_MARGIN - 1) is first
    assert assertion(provider, bound=True, now=cert_end - DEFAULT_EXPIRY_MARGIN) is not first
    assert len(client.calls) == 2


# -- fail closed at leg 1 --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bound", "token_type", "with_certificate"),
    [(True, "Bearer", True), (True, "mtls_pop", False), (False, "mtls_pop", True)],
)
def test_leg1_token_of_the_wrong_kind_is_refused_and_not_kept(
    bound: bool, token_type: str, with_certificate: bool
) -> None:
    certificate = make_certificate() if with_certificate else None
    client = ScriptedManagedIdentity(certificate=certificate, token_type=token_type)
    provider = ManagedIdentityAssertionProvider(client)
    with pytest.raises(TokenTypeMismatchError):
        assertion(provider, bound=bound, now=NOW)
    assert provider.cached(bound=bound, now=NOW) is None


# -- the loader ------------------------------------------------------------------------------


def test_loader_selects_the_user_assigned_identity_and_warms_up_once() -> None:
    client = ScriptedManagedIdentity()
    loader = SignedAssertionFromManagedIdentityLoader(client, warm_up=True, clock=lambda: NOW)
    credentials = CredentialsProvider(
        [description(ManagedIdentityClientId="uami-client-id")],
        {CredentialSource.SignedAssertionFromManagedIdentity: loader},
    )
    credential = drive(credentials.selected())
    assert isinstance(credential, AssertionCredential)
    assert credential.description_id == "SignedAssertionFromManagedIdentity=uami-client-id"
    assert credential.provider.supports_token_binding is True
    assert client.calls == [("uami-client-id", f"{EXCHANGE}/.default", False)]
    # the warm-up token is the first Bearer assertion: no second leg 1
    drive(credential.provider.assertion_flow(bound=False, now=NOW + 1))
    assert len(client.calls) == 1
    assert "eyJ" not in repr(credential)


@pytest.mark.parametrize("client_id", [None, "", "  "])
def test_no_client_id_means_the_system_assigned_identity(client_id: str | None) -> None:
    client = ScriptedManagedIdentity()
    loader = SignedAssertionFromManagedIdentityLoader(client)
    values = {} if client_id is None else {"ManagedIdentityClientId": client_id}
    credential = loader.load(description(**values))
    provider = credential.provider
    assert isinstance(provider, ManagedIdentityAssertionProvider)
    assert provider.identity == ManagedIdentityId()
    assert credential.description_id == "SignedAssertionFromManagedIdentity=SystemAssigned"
    assert client.calls == []  # no warm-up: nothing is sent at load time


def test_a_failed_warm_up_fails_the_entry_and_the_next_one_is_tried() -> None:
    class Unavailable(ScriptedManagedIdentity):
        def token_flow(self, *args: Any, **kwargs: Any) -> Step[Any]:
            raise ManagedIdentityError("Identity not found")
            yield  # pragma: no cover

    loader = SignedAssertionFromManagedIdentityLoader(Unavailable(), warm_up=True)
    secret = CredentialDescription.model_validate(
        {"SourceType": "ClientSecret", "ClientSecret": "s"}
    )
    provider = CredentialsProvider(
        [description(ManagedIdentityClientId="nope"), secret],
        {
            CredentialSource.SignedAssertionFromManagedIdentity: loader,
            CredentialSource.ClientSecret: ClientSecretLoader(),
        },
    )
    assert drive(provider.selected()).description_id.startswith("RedactedClientSecret=")
    credential = loader.load(description(ManagedIdentityClientId="nope"))  # sends nothing
    with pytest.raises(ManagedIdentityAssertionError) as caught:
        drive(loader.warm_up(credential))
    caught.value.locate("AzureAd.ClientCredentials[0]")
    message = str(caught.value)
    assert message.startswith("AzureAd.ClientCredentials[0].ManagedIdentityClientId: ")
    assert "user-assigned identity client_id=nope" in message
    assert "api://AzureADTokenExchange/.default" in message
    assert "Identity not found" in message
    assert isinstance(caught.value.__cause__, ManagedIdentityError)


# -- explaining a refused federated credential ----------------------------------------------


def _service_error(code: int) -> ServiceError:
    return ServiceError(
        status=400,
        error="invalid_request",
        error_description=f"AADSTS{code}: No matching federated identity record found.",
        error_codes=[code],
        endpoint="https://login/t/oauth2/v2.0/token",
    )


def _request(assertion_value: str | None) -> ClientCredentialsRequest:
    return ClientCredentialsRequest(
        token_endpoint="https://login/t/oauth2/v2.0/token",
        client_id="app-id",
        scope="api://x/.default",
        client_assertion=assertion_value,
    )


@pytest.mark.parametrize("code", [70021, 700211, 700212, 700213])
def test_a_federation_mismatch_names_issuer_subject_and_audience(code: int) -> None:
    leg1 = fake_jwt(iss="https://issuer/v2.0", sub="mi-object-id", aud=EXCHANGE, exp=NOW)
    explained = explain_federation_failure(_service_error(code), _request(leg1))
    assert isinstance(explained, FederatedCredentialError)
    assert (explained.issuer, explained.subject, explained.audience) == (
        "https://issuer/v2.0",
        "mi-object-id",
        EXCHANGE,
    )
    assert explained.error_codes == (code,)
    message = str(explained)
    assert f"AADSTS{code}" in message
    assert "issuer 'https://issuer/v2.0', subject 'mi-object-id' and audience " in message
    assert "application 'app-id'" in message
    assert leg1 not in message


def test_other_errors_and_requests_without_assertion_are_left_alone() -> None:
    leg1 = fake_jwt(iss="i", sub="s", aud="a")
    assert explain_federation_failure(_service_error(700027), _request(leg1)) is None
    assert explain_federation_failure(_service_error(70021), _request(None)) is None
    odd = explain_federation_failure(_service_error(70021), _request("not-a-jwt"))
    assert odd is not None
    assert odd.issuer == "(not in the assertion)"
    assert unverified_claims("a.!!!.c") == {}
