"""TokenAcquirer behaviour over a scripted identity provider (tier 1: no sockets)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import pytest
from acquisition_helpers import (
    FakeAssertionProvider,
    FakeCredentials,
    FakeManagedIdentity,
    ScriptedRunner,
    certificate_credential,
    json_response,
    secret_credential,
    token_answer,
)
from testkit import invalid_client_body

from identity_web import (
    CredentialUnavailableError,
    InvalidRequestError,
    ServiceError,
    TokenAcquisitionError,
    TokenSource,
    TokenTypeMismatchError,
)
from identity_web.acquisition import TokenAcquirer, TokenRequestOptions
from identity_web.cache import InMemoryTokenCache
from identity_web.credentials import AssertionCredential
from identity_web.protocol import BindingCertificate, HttpRequest, HttpResponse
from identity_web.protocol.rfc7523 import JWT_BEARER, JWT_POP, decode_segments
from identity_web.settings import ManagedIdentityOptions, MicrosoftIdentityApplicationOptions

SCOPE = "api://resource/.default"
LOGIN = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
MTLS = "https://mtlsauth.microsoft.com/contoso.onmicrosoft.com/oauth2/v2.0/token"


def app_options(**overrides: Any) -> MicrosoftIdentityApplicationOptions:
    values = {
        "Instance": "https://login.microsoftonline.com/",
        "TenantId": "contoso.onmicrosoft.com",
        "ClientId": "app-id",
    }
    values.update(overrides)
    return MicrosoftIdentityApplicationOptions.model_validate(values)


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def make(
    credentials: Any,
    handler: Any = None,
    *,
    app: MicrosoftIdentityApplicationOptions | None = None,
    managed_identity: Any = None,
    delay: float = 0.0,
) -> tuple[TokenAcquirer, ScriptedRunner, InMemoryTokenCache, Clock]:
    runner = ScriptedRunner(handler or by_token_type(), delay=delay)
    cache = InMemoryTokenCache()
    clock = Clock()
    acquirer = TokenAcquirer(
        app or app_options(),
        credentials,
        runner,
        cache,
        managed_identity,
        clock,
        retry_scale=0.0,
        environ={},
    )
    return acquirer, runner, cache, clock


def by_token_type(**extra: Any) -> Any:
    """Answer like Entra: mtls_pop when asked for it, else Bearer."""

    def handler(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            return json_response(200, {})
        asked = (request.form or {}).get("token_type")
        return token_answer("mtls_pop" if asked == "mtls_pop" else "Bearer", **extra)

    return handler


# -- the three credential paths ----------------------------------------------------------------


def test_secret_bearer_goes_to_the_login_host_and_is_cached() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    first = acquirer.acquire_token_for_app(SCOPE)
    second = acquirer.acquire_token_for_app(SCOPE)
    assert [r.url for r in runner.requests] == [LOGIN]
    request = runner.requests[0]
    assert request.form is not None
    assert request.form["client_secret"] == "s3cret-value"
    assert request.form["scope"] == SCOPE
    assert request.tls_identity is None
    assert first.token_source is TokenSource.IDENTITY_PROVIDER
    assert second.token_source is TokenSource.CACHE
    assert second.access_token == first.access_token
    assert first.token_type == "Bearer"
    assert first.binding_certificate is None
    assert first.token_endpoint == LOGIN


def test_certificate_bearer_sends_a_private_key_jwt_without_tls_certificate(
    app_certificate: BindingCertificate,
) -> None:
    acquirer, runner, _, clock = make(FakeCredentials(certificate_credential(app_certificate)))
    acquirer.acquire_token_for_app(SCOPE)
    request = runner.requests[0]
    assert request.url == LOGIN
    assert request.tls_identity is None
    assert request.form is not None
    assert request.form["client_assertion_type"] == JWT_BEARER
    header, claims = decode_segments(request.form["client_assertion"])
    assert header["x5t#S256"] == app_certificate.x5t_s256
    assert "x5c" not in header
    assert claims["aud"] == LOGIN
    assert claims["iat"] == int(clock.now)


def test_send_x5c_puts_the_chain_in_the_assertion(app_certificate: BindingCertificate) -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(certificate_credential(app_certificate)), app=app_options(SendX5C=True)
    )
    acquirer.acquire_token_for_app(SCOPE)
    assert runner.requests[0].form is not None
    header, _ = decode_segments(runner.requests[0].form["client_assertion"])
    assert header["x5c"] == app_certificate.x5c


def test_certificate_mtls_pop_presents_the_certificate_to_the_mtls_host(
    app_certificate: BindingCertificate,
) -> None:
    acquirer, runner, _, _ = make(FakeCredentials(certificate_credential(app_certificate)))
    result = acquirer.acquire_token_for_app(SCOPE, bound=True)
    request = runner.requests[0]
    assert request.url == MTLS
    assert request.tls_identity is app_certificate
    assert request.form is not None
    assert request.form["token_type"] == "mtls_pop"
    assert "client_assertion" not in request.form
    assert "client_secret" not in request.form
    assert result.token_type == "mtls_pop"
    assert result.binding_certificate is app_certificate
    assert result.authorization_header.startswith("mtls_pop ")
    cached = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert cached.token_source is TokenSource.CACHE
    assert cached.binding_certificate is app_certificate
    assert len(runner.requests) == 1


def test_azure_region_prefixes_the_mtls_host(app_certificate: BindingCertificate) -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(certificate_credential(app_certificate)),
        app=app_options(AzureRegion="westus3"),
    )
    acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert runner.requests[0].url == MTLS.replace("//mtlsauth", "//westus3.mtlsauth")


@pytest.mark.parametrize(
    ("azure_region", "environ", "host"),
    [
        ("TryAutoDetect", {"REGION_NAME": "West US 3"}, "westus3.mtlsauth.microsoft.com"),
        ("TryAutoDetect", {}, "mtlsauth.microsoft.com"),
        (None, {"REGION_NAME": "westus3"}, "mtlsauth.microsoft.com"),
        ("eastus", {"REGION_NAME": "westus3"}, "eastus.mtlsauth.microsoft.com"),
    ],
)
def test_region_is_azure_region_or_region_name_when_auto_detecting(
    app_certificate: BindingCertificate,
    azure_region: str | None,
    environ: dict[str, str],
    host: str,
) -> None:
    runner = ScriptedRunner(by_token_type())
    acquirer = TokenAcquirer(
        app_options(AzureRegion=azure_region),
        FakeCredentials(certificate_credential(app_certificate)),
        runner,
        InMemoryTokenCache(),
        environ=environ,
    )
    acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert runner.requests[-1].url == MTLS.replace("//mtlsauth.microsoft.com", f"//{host}")
    asked_imds = azure_region == "TryAutoDetect" and not environ  # no variable: IMDS first
    assert len(runner.requests) == (2 if asked_imds else 1)
    if asked_imds:  # the scripted answer is no region: the global host
        assert runner.requests[0].url.startswith("http://169.254.169.254/metadata/instance/")


# -- fail closed and cache separation ----------------------------------------------------------


def test_downgraded_answer_to_a_bound_request_fails_closed_and_caches_nothing(
    app_certificate: BindingCertificate,
) -> None:
    acquirer, runner, cache, _ = make(
        FakeCredentials(certificate_credential(app_certificate)), lambda r: token_answer("Bearer")
    )
    with pytest.raises(TokenTypeMismatchError):
        acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert len(cache) == 0
    with pytest.raises(TokenTypeMismatchError):
        acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert len(runner.requests) == 2


def test_bearer_and_bound_tokens_never_share_a_cache_entry(
    app_certificate: BindingCertificate,
) -> None:
    acquirer, runner, cache, _ = make(FakeCredentials(certificate_credential(app_certificate)))
    bearer = acquirer.acquire_token_for_app(SCOPE)
    bound = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert bearer.token_type == "Bearer"
    assert bound.token_type == "mtls_pop"
    assert bound.token_source is TokenSource.IDENTITY_PROVIDER
    assert len(cache) == 2
    assert acquirer.acquire_token_for_app(SCOPE).token_type == "Bearer"
    assert acquirer.acquire_token_for_app(SCOPE, bound=True).token_type == "mtls_pop"
    assert len(runner.requests) == 2


def test_a_renewed_certificate_misses_the_cache(
    app_certificate: BindingCertificate, renewed_certificate: BindingCertificate
) -> None:
    credentials = FakeCredentials(certificate_credential(app_certificate))
    acquirer, runner, _, _ = make(credentials)
    acquirer.acquire_token_for_app(SCOPE, bound=True)
    credentials.credential = certificate_credential(renewed_certificate)
    result = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert result.token_source is TokenSource.IDENTITY_PROVIDER
    assert result.binding_certificate is renewed_certificate
    assert runner.requests[1].tls_identity is renewed_certificate


def test_force_refresh_and_claims_bypass_the_cache_read() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    acquirer.acquire_token_for_app(SCOPE)
    forced = acquirer.acquire_token_for_app(SCOPE, TokenRequestOptions(force_refresh=True))
    assert forced.token_source is TokenSource.IDENTITY_PROVIDER
    claims = '{"access_token":{"nbf":{"essential":true,"value":"1"}}}'
    challenged = acquirer.acquire_token_for_app(SCOPE, TokenRequestOptions(claims=claims))
    assert challenged.token_source is TokenSource.IDENTITY_PROVIDER
    assert runner.requests[2].form is not None
    assert json.loads(runner.requests[2].form["claims"]) == json.loads(claims)
    assert acquirer.acquire_token_for_app(SCOPE).token_source is TokenSource.CACHE
    assert len(runner.requests) == 3


def test_client_capabilities_are_sent_as_xms_cc() -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(secret_credential()), app=app_options(ClientCapabilities=["CP1"])
    )
    acquirer.acquire_token_for_app(SCOPE)
    assert runner.requests[0].form is not None
    assert json.loads(runner.requests[0].form["claims"]) == {
        "access_token": {"xms_cc": {"values": ["CP1"]}}
    }


def test_extra_query_parameters_reach_the_url_and_partition_the_cache() -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(secret_credential()), app=app_options(ExtraQueryParameters={"dc": "ESTS-A"})
    )
    acquirer.acquire_token_for_app(SCOPE)
    acquirer.acquire_token_for_app(
        SCOPE, TokenRequestOptions(extra_query_parameters={"slice": "test"})
    )
    assert runner.requests[0].url == LOGIN + "?dc=ESTS-A"
    assert runner.requests[1].url == LOGIN + "?dc=ESTS-A&slice=test"


def test_expired_tokens_are_not_served() -> None:
    acquirer, runner, _, clock = make(FakeCredentials(secret_credential()))
    acquirer.acquire_token_for_app(SCOPE)
    clock.now += 3600 - 299  # inside the 5-minute margin
    assert acquirer.acquire_token_for_app(SCOPE).token_source is TokenSource.IDENTITY_PROVIDER
    assert len(runner.requests) == 2


def test_correlation_id_is_sent_and_reported() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    corr = "0b1e5a5e-6a3c-4a8e-9a2e-1a2b3c4d5e6f"
    result = acquirer.acquire_token_for_app(SCOPE, TokenRequestOptions(correlation_id=corr))
    assert runner.requests[0].headers["client-request-id"] == corr
    assert result.correlation_id == corr


# -- checks before any network call ------------------------------------------------------------


def test_secret_cannot_bind_idw10115() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    with pytest.raises(InvalidRequestError, match="IDW10115") as caught:
        acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert caught.value.code == "IDW10115"
    assert runner.requests == []


def test_assertion_provider_without_binding_support_cannot_bind() -> None:
    provider = FakeAssertionProvider(None, supports_token_binding=False)
    credentials = FakeCredentials(AssertionCredential(provider, "SignedAssertionFilePath=/t"))
    acquirer, runner, _, _ = make(credentials)
    with pytest.raises(InvalidRequestError, match="IDW10115"):
        acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert runner.requests == []


@pytest.mark.parametrize("scope", ["api://resource", "api://resource/read"])
def test_app_scopes_must_end_with_default_idw10404(scope: str) -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    with pytest.raises(InvalidRequestError, match="IDW10404"):
        acquirer.acquire_token_for_app(scope)
    assert runner.requests == []


@pytest.mark.parametrize("tenant", ["common", "organizations", "consumers"])
def test_non_tenants_are_refused_idw10405(tenant: str) -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(secret_credential()), app=app_options(TenantId=tenant)
    )
    with pytest.raises(InvalidRequestError, match="IDW10405"):
        acquirer.acquire_token_for_app(SCOPE)
    other, _, _, _ = make(FakeCredentials(secret_credential()))
    with pytest.raises(InvalidRequestError, match="IDW10405"):
        other.acquire_token_for_app(SCOPE, TokenRequestOptions(tenant=tenant))
    assert runner.requests == []


def test_tenant_override_changes_endpoint_and_cache_key() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    acquirer.acquire_token_for_app(SCOPE)
    result = acquirer.acquire_token_for_app(SCOPE, TokenRequestOptions(tenant="fabrikam.com"))
    assert result.token_source is TokenSource.IDENTITY_PROVIDER
    assert result.tenant_id == "fabrikam.com"
    assert runner.requests[1].url == LOGIN.replace("contoso.onmicrosoft.com", "fabrikam.com")


def test_deprecated_sovereign_host_is_refused_before_any_request(
    app_certificate: BindingCertificate,
) -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(certificate_credential(app_certificate)),
        app=app_options(Instance="https://login.usgovcloudapi.net/"),
    )
    with pytest.raises(InvalidRequestError, match=r"please use login\.microsoftonline\.us"):
        acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert runner.requests == []


@pytest.mark.parametrize(
    "instance",
    [
        "https://login.usgovcloudapi.net/",
        "https://login.chinacloudapi.cn/",
        "https://sts.windows.net/",
        "https://login-us.microsoftonline.com/",
        "https://mtlsauth.microsoft.com/",
    ],
)
def test_unmappable_entra_hosts_are_refused_for_mtls_pop_before_any_request(
    app_certificate: BindingCertificate, instance: str
) -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(certificate_credential(app_certificate)), app=app_options(Instance=instance)
    )
    with pytest.raises(InvalidRequestError) as caught:
        acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert caught.value.code == "mtls_pop_not_supported_for_environment"
    assert runner.requests == []


class RecordingCache(InMemoryTokenCache):
    def __init__(self) -> None:
        super().__init__()
        self.keys: list[Any] = []

    def set(self, key: Any, entry: Any) -> None:
        self.keys.append(key)
        super().set(key, entry)


def test_one_binding_context_per_acquisition_even_if_the_certificate_rotates_midway(
    app_certificate: BindingCertificate, renewed_certificate: BindingCertificate
) -> None:
    credentials = FakeCredentials(certificate_credential(app_certificate))

    def rotate_while_in_flight(request: HttpRequest) -> HttpResponse:
        credentials.credential = certificate_credential(renewed_certificate)
        return token_answer("mtls_pop")

    cache = RecordingCache()
    runner = ScriptedRunner(rotate_while_in_flight)
    acquirer = TokenAcquirer(app_options(), credentials, runner, cache, environ={})
    first = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert runner.requests[0].tls_identity is app_certificate
    assert first.binding_certificate is app_certificate
    assert [key.binding for key in cache.keys] == [app_certificate.x5t_s256]
    second = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert second.token_source is TokenSource.IDENTITY_PROVIDER
    assert runner.requests[1].tls_identity is renewed_certificate
    assert second.binding_certificate is renewed_certificate
    assert cache.keys[1].binding == renewed_certificate.x5t_s256


def test_no_credentials_and_no_managed_identity_is_unavailable() -> None:
    acquirer, _, _, _ = make(None)
    with pytest.raises(CredentialUnavailableError):
        acquirer.acquire_token_for_app(SCOPE)


# -- OpenID discovery of the mTLS endpoint -----------------------------------------------------


def test_non_entra_authority_discovers_the_mtls_endpoint_once(
    app_certificate: BindingCertificate,
) -> None:
    alias = "https://127.0.0.1:9443/t1/oauth2/v2.0/token"

    def handler(request: HttpRequest) -> HttpResponse:
        if request.method == "GET":
            assert request.tls_identity is None
            return json_response(200, {"mtls_endpoint_aliases": {"token_endpoint": alias}})
        return token_answer("mtls_pop")

    acquirer, runner, _, _ = make(
        FakeCredentials(certificate_credential(app_certificate)),
        handler,
        app=app_options(Instance="https://127.0.0.1:8443/", TenantId="t1"),
    )
    acquirer.acquire_token_for_app(SCOPE, bound=True)
    acquirer.acquire_token_for_app(SCOPE, TokenRequestOptions(force_refresh=True), bound=True)
    assert [r.method for r in runner.requests] == ["GET", "POST", "POST"]
    assert (
        runner.requests[0].url == "https://127.0.0.1:8443/t1/v2.0/.well-known/openid-configuration"
    )
    assert runner.requests[1].url == alias


def test_no_mtls_endpoint_alias_fails_clearly_and_sends_no_token_request(
    app_certificate: BindingCertificate,
) -> None:
    acquirer, runner, cache, _ = make(
        FakeCredentials(certificate_credential(app_certificate)),
        lambda request: json_response(200, {"token_endpoint": "https://id.contoso.com/t1/x"}),
        app=app_options(Instance="https://id.contoso.com/", TenantId="t1"),
    )
    with pytest.raises(TokenAcquisitionError, match=r"mtls_endpoint_aliases\.token_endpoint"):
        acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert [r.method for r in runner.requests] == ["GET"]
    assert runner.requests[0].tls_identity is None
    assert len(cache) == 0


# -- certificate reload-and-retry --------------------------------------------------------------


def invalid_client(code: int) -> HttpResponse:
    return json_response(401, invalid_client_body(code))


def test_certificate_error_reloads_the_credential_and_retries_once(
    app_certificate: BindingCertificate, renewed_certificate: BindingCertificate
) -> None:
    answers = [invalid_client(700027), token_answer("mtls_pop")]
    credentials = FakeCredentials(
        certificate_credential(app_certificate),
        after_reset=certificate_credential(renewed_certificate),
    )
    acquirer, runner, _, _ = make(credentials, lambda r: answers.pop(0))
    result = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert credentials.resets == 1
    assert [r.tls_identity for r in runner.requests] == [app_certificate, renewed_certificate]
    assert result.binding_certificate is renewed_certificate
    again = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert again.token_source is TokenSource.CACHE


def test_reload_and_retry_happens_only_once(app_certificate: BindingCertificate) -> None:
    credentials = FakeCredentials(certificate_credential(app_certificate))
    acquirer, runner, _, _ = make(credentials, lambda r: invalid_client(7000214))
    with pytest.raises(ServiceError) as caught:
        acquirer.acquire_token_for_app(SCOPE)
    assert caught.value.has_code(7000214)
    assert credentials.resets == 1
    assert len(runner.requests) == 2


@pytest.mark.parametrize("code", [7000215, 700016, 7000218])
def test_other_errors_are_not_retried(app_certificate: BindingCertificate, code: int) -> None:
    credentials = FakeCredentials(certificate_credential(app_certificate))
    acquirer, runner, _, _ = make(credentials, lambda r: invalid_client(code))
    with pytest.raises(ServiceError):
        acquirer.acquire_token_for_app(SCOPE)
    assert credentials.resets == 0
    assert len(runner.requests) == 1


# -- managed identity and FIC ------------------------------------------------------------------


def test_managed_identity_path_and_cache_per_identity(app_certificate: BindingCertificate) -> None:
    mi = FakeManagedIdentity(app_certificate)
    acquirer, _, _, _ = make(None, lambda r: HttpResponse(200, {}, b""), managed_identity=mi)
    system = TokenRequestOptions(managed_identity=ManagedIdentityOptions())
    user = TokenRequestOptions(
        managed_identity=ManagedIdentityOptions(
            UserAssignedClientId="6325cd32-9911-41f3-819c-416cdf9104e7"
        )
    )
    bound = acquirer.acquire_token_for_app(SCOPE, system, bound=True)
    assert bound.token_type == "mtls_pop"
    assert bound.binding_certificate is app_certificate
    assert (
        acquirer.acquire_token_for_app(SCOPE, system, bound=True).token_source is TokenSource.CACHE
    )
    assert acquirer.acquire_token_for_app(SCOPE, system).token_type == "Bearer"
    assert acquirer.acquire_token_for_app(SCOPE, user).token_source is TokenSource.IDENTITY_PROVIDER
    cached = acquirer.acquire_token_for_app(SCOPE, system, bound=True)
    assert cached.binding_certificate is app_certificate
    assert [call[:2] for call in mi.calls] == [(SCOPE, True), (SCOPE, False), (SCOPE, False)]


def test_fic_bearer_uses_jwt_bearer_at_the_login_host(app_certificate: BindingCertificate) -> None:
    provider = FakeAssertionProvider(app_certificate)
    credentials = FakeCredentials(
        AssertionCredential(provider, "SignedAssertionFromManagedIdentity")
    )
    acquirer, runner, _, _ = make(credentials)
    result = acquirer.acquire_token_for_app(SCOPE)
    post = runner.posts()[0]
    assert provider.calls == [False]
    assert post.url == LOGIN
    assert post.tls_identity is None
    assert post.form is not None
    assert post.form["client_assertion_type"] == JWT_BEARER
    assert post.form["client_assertion"] == "leg1-assertion"
    assert result.binding_certificate is None


def test_fic_mtls_pop_presents_the_leg_one_certificate_with_jwt_pop(
    app_certificate: BindingCertificate,
) -> None:
    provider = FakeAssertionProvider(app_certificate)
    credentials = FakeCredentials(
        AssertionCredential(provider, "SignedAssertionFromManagedIdentity")
    )
    acquirer, runner, _, _ = make(credentials)
    result = acquirer.acquire_token_for_app(SCOPE, bound=True)
    post = runner.posts()[0]
    assert provider.calls == [True]
    assert post.url == MTLS
    assert post.tls_identity is app_certificate
    assert post.form is not None
    assert post.form["client_assertion_type"] == JWT_POP
    assert post.form["token_type"] == "mtls_pop"
    assert result.binding_certificate is app_certificate
    cached = acquirer.acquire_token_for_app(SCOPE, bound=True)
    assert cached.token_source is TokenSource.CACHE
    assert cached.binding_certificate is app_certificate


# -- refresh-ahead and single-flight -----------------------------------------------------------


def eventually(condition: Any, seconds: float = 5.0) -> None:
    """Wait for a background refresh to get somewhere (fails the test after `seconds`)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background refresh did not happen"
        time.sleep(0.005)


def test_a_failed_refresh_warns_keeps_the_valid_token_and_backs_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    answers = [
        token_answer(refresh_in=1800),
        json_response(500, {"error": "server_error"}),
        json_response(500, {"error": "server_error"}),
        json_response(500, {"error": "server_error"}),
    ]
    acquirer, runner, _, clock = make(
        FakeCredentials(secret_credential()), lambda r: answers.pop(0)
    )
    first = acquirer.acquire_token_for_app(SCOPE)
    clock.now += 1801
    kept = acquirer.acquire_token_for_app(SCOPE)
    assert kept.access_token == first.access_token
    assert kept.token_source is TokenSource.CACHE
    eventually(lambda: "refreshing the Bearer token" in caplog.text)
    assert [r.levelname for r in caplog.records if "refreshing" in r.message] == ["WARNING"]
    assert first.access_token not in caplog.text
    assert len(runner.requests) == 2
    clock.now += 10  # within the backoff: no new attempt
    assert acquirer.acquire_token_for_app(SCOPE).access_token == first.access_token
    time.sleep(0.05)
    assert len(runner.requests) == 2
    clock.now += 30  # past it: one more attempt, the valid token still served meanwhile
    assert acquirer.acquire_token_for_app(SCOPE).access_token == first.access_token
    eventually(lambda: caplog.text.count("refreshing the Bearer token") == 2)
    assert len(runner.requests) == 3
    clock.now = first.expires_on  # expired: never served, the caller acquires (and fails)
    with pytest.raises(ServiceError):
        acquirer.acquire_token_for_app(SCOPE)


def test_while_one_refresh_runs_in_the_background_every_caller_keeps_the_valid_token() -> None:
    release = threading.Event()
    answers = [token_answer(refresh_in=1800), token_answer(expires_in=7200)]

    def handler(request: HttpRequest) -> HttpResponse:
        if len(answers) == 1:
            assert release.wait(5)
        return answers.pop(0)

    acquirer, runner, _, clock = make(FakeCredentials(secret_credential()), handler)
    first = acquirer.acquire_token_for_app(SCOPE)
    clock.now += 1801
    noticed = acquirer.acquire_token_for_app(SCOPE)  # does not wait for the refresh
    eventually(lambda: len(runner.requests) == 2)
    others = [acquirer.acquire_token_for_app(SCOPE) for _ in range(20)]
    others.append(asyncio.run(acquirer.acquire_token_for_app_async(SCOPE)))
    for result in [noticed, *others]:
        assert result.token_source is TokenSource.CACHE
        assert result.expires_on == first.expires_on
    assert len(runner.requests) == 2
    release.set()
    eventually(lambda: acquirer.acquire_token_for_app(SCOPE).expires_on == clock.now + 7200)
    assert len(runner.requests) == 2


def test_fifty_threads_on_a_cold_key_make_one_request() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()), delay=0.2)
    barrier = threading.Barrier(50)
    results: list[Any] = []

    def call() -> None:
        barrier.wait()
        results.append(acquirer.acquire_token_for_app(SCOPE))

    threads = [threading.Thread(target=call) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 50
    assert len(runner.requests) == 1
    assert {r.access_token for r in results} == {"at-Bearer"}


async def test_fifty_tasks_on_a_cold_key_make_one_request() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()), delay=0.05)
    results = await asyncio.gather(
        *(acquirer.acquire_token_for_app_async(SCOPE) for _ in range(50))
    )
    assert len(runner.requests) == 1
    assert {r.access_token for r in results} == {"at-Bearer"}
    assert (await acquirer.acquire_token_for_app_async(SCOPE)).token_source is TokenSource.CACHE


async def test_a_cancelled_caller_does_not_cancel_the_shared_acquisition() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()), delay=0.05)
    first = asyncio.ensure_future(acquirer.acquire_token_for_app_async(SCOPE))
    second = asyncio.ensure_future(acquirer.acquire_token_for_app_async(SCOPE))
    await asyncio.sleep(0.01)
    first.cancel()
    result = await second
    assert result.token_source is TokenSource.IDENTITY_PROVIDER
    assert len(runner.requests) == 1


def test_errors_reach_every_waiting_thread() -> None:
    acquirer, runner, _, _ = make(
        FakeCredentials(secret_credential()), lambda r: invalid_client(7000215), delay=0.1
    )
    errors: list[BaseException] = []

    def call() -> None:
        try:
            acquirer.acquire_token_for_app(SCOPE)
        except ServiceError as error:
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(errors) == 5
    assert len(runner.requests) == 1


# -- the plan memo -----------------------------------------------------------------------------


class MutableOptions:
    """Satisfies the options protocol but can change between calls: never memoized."""

    def __init__(self) -> None:
        self.managed_identity = None
        self.tenant: str | None = "first.example"
        self.force_refresh = False
        self.claims = None
        self.correlation_id = None
        self.extra_query_parameters: dict[str, str] = {}
        self.extra_headers_parameters: dict[str, str] = {}


def test_mutable_options_are_planned_afresh_on_every_call() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    options = MutableOptions()
    acquirer.acquire_token_for_app(SCOPE, options)
    options.tenant = "second.example"
    result = acquirer.acquire_token_for_app(SCOPE, options)
    assert result.tenant_id == "second.example"
    assert "second.example" in runner.requests[1].url


def test_immutable_options_plans_are_reused_but_not_across_options_objects() -> None:
    acquirer, runner, _, _ = make(FakeCredentials(secret_credential()))
    first = TokenRequestOptions(tenant="first.example")
    second = TokenRequestOptions(tenant="second.example")
    acquirer.acquire_token_for_app(SCOPE, first)
    acquirer.acquire_token_for_app(SCOPE, second)
    assert acquirer.acquire_token_for_app(SCOPE, first).tenant_id == "first.example"
    assert acquirer.acquire_token_for_app(SCOPE, second).tenant_id == "second.example"
    assert len(runner.requests) == 2
