"""IMDS v1 and the other sources as sans-IO flows, driven by hand with a fake clock."""

from __future__ import annotations

from pathlib import Path

import pytest
from mi_testkit import FakeDriver, query, response, scripted

from identity_web import ManagedIdentityError, ServiceError
from identity_web.managed_identity import ManagedIdentityClient
from identity_web.protocol.imds import (
    ManagedIdentityId,
    parse_expiry,
    refresh_on_for,
    resource_from_scope,
)
from identity_web.settings import ManagedIdentityOptions

NOW = 1_700_000_000.0
SYSTEM = ManagedIdentityOptions()
IMDS_ENV = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": "http://127.0.0.1:1"}


def ok_body(expires_on: str = str(int(NOW) + 86399)) -> dict[str, str]:
    return {
        "access_token": "tok",
        "client_id": "c",
        "expires_in": "86399",
        "expires_on": expires_on,
        "ext_expires_in": "86399",
        "not_before": str(int(NOW)),
        "resource": "api://x",
        "token_type": "Bearer",
    }


def client(environ: dict[str, str] | None = None, **kwargs: object) -> ManagedIdentityClient:
    return ManagedIdentityClient(
        environ=IMDS_ENV if environ is None else environ,
        arc_agent_path="/nonexistent/himds",
        **kwargs,  # type: ignore[arg-type]
    )


def test_v1_request_shape() -> None:
    driver = FakeDriver(scripted(response(200, ok_body())))
    flow = client().token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW)
    token = driver.run(flow)
    (request,) = driver.sent
    assert request.method == "GET"
    assert request.url.startswith("http://127.0.0.1:1/metadata/identity/oauth2/token?")
    assert query(request) == {"api-version": "2018-02-01", "resource": "api://x"}
    assert request.headers["Metadata"] == "true"
    assert request.tls_identity is None
    assert token.token_type == "Bearer"
    assert token.expires_on == NOW + 86399
    assert token.refresh_on == pytest.approx(NOW + 86399 / 2)
    assert token.binding_certificate is None


@pytest.mark.parametrize(
    ("options", "parameter", "value"),
    [
        (ManagedIdentityOptions(user_assigned_client_id="cid"), "client_id", "cid"),
        (ManagedIdentityOptions(user_assigned_object_id="oid"), "object_id", "oid"),
        (
            ManagedIdentityOptions(user_assigned_resource_id="/subscriptions/r"),
            "msi_res_id",
            "/subscriptions/r",
        ),
    ],
)
def test_v1_user_assigned_selectors(
    options: ManagedIdentityOptions, parameter: str, value: str
) -> None:
    driver = FakeDriver(scripted(response(200, ok_body())))
    driver.run(client().token_flow(options, "api://x/.default", bound=False, now=NOW))
    assert query(driver.sent[0])[parameter] == value


def test_default_imds_host_without_override() -> None:
    driver = FakeDriver(scripted(response(200, ok_body())))
    driver.run(
        client({}).token_flow(SYSTEM, "https://vault.azure.net/.default", bound=False, now=NOW)
    )
    assert driver.sent[0].url.startswith("http://169.254.169.254/metadata/identity/oauth2/token?")
    assert query(driver.sent[0])["resource"] == "https://vault.azure.net"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1702429034", 1702429034.0),
        (1702429034, 1702429034.0),
        ("3599", NOW + 3599),
        (3599, NOW + 3599),
        ("2023-12-13T00:57:14+00:00", 1702429034.0),
        ("12/13/2023 00:57:14 +00:00", 1702429034.0),
        ("not a date", None),
        (None, None),
        ("2023-12-13T00:57:14", None),
    ],
)
def test_expiry_rule(value: object, expected: float | None) -> None:
    assert parse_expiry(value, NOW) == expected


def test_refresh_on_only_for_tokens_living_more_than_two_hours() -> None:
    assert refresh_on_for(NOW + 7200, NOW) is None
    assert refresh_on_for(NOW + 7201, NOW) == pytest.approx(NOW + 3600.5)


def test_resource_from_scope() -> None:
    assert (
        resource_from_scope("https://management.azure.com/.default")
        == "https://management.azure.com"
    )
    assert resource_from_scope("api://x") == "api://x"


def test_expires_in_alone_is_enough() -> None:
    body = ok_body()
    del body["expires_on"]
    driver = FakeDriver(scripted(response(200, body)))
    token = driver.run(client().token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    assert token.expires_on == NOW + 86399


def test_success_without_expiry_is_an_error() -> None:
    driver = FakeDriver(scripted(response(200, {"access_token": "t"})))
    with pytest.raises(ManagedIdentityError, match="expires_on"):
        driver.run(client().token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))


def test_400_names_the_requested_identity() -> None:
    body = {"error": "invalid_request", "error_description": "Identity not found"}
    driver = FakeDriver(scripted(response(400, body)))
    options = ManagedIdentityOptions(user_assigned_client_id="1234")
    with pytest.raises(ManagedIdentityError, match="client_id=1234") as caught:
        driver.run(client().token_flow(options, "api://x/.default", bound=False, now=NOW))
    assert "Identity not found" in str(caught.value)
    assert "has not been assigned" in str(caught.value)


def test_relayed_ests_error_keeps_its_aadsts_codes() -> None:
    body = {
        "error": "invalid_resource",
        "error_description": "AADSTS500011: The resource principal named api://nope was not found.",
        "error_codes": [500011],
        "correlation_id": "corr",
    }
    driver = FakeDriver(scripted(response(400, body)))
    with pytest.raises(ServiceError) as caught:
        driver.run(client().token_flow(SYSTEM, "api://nope/.default", bound=False, now=NOW))
    assert caught.value.has_code(500011)
    assert caught.value.correlation_id == "corr"


def test_transient_errors_are_retried_then_succeed() -> None:
    answers = [
        response(500),
        response(410),
        response(429, headers={"Retry-After": "3"}),
        response(200, ok_body()),
    ]
    driver = FakeDriver(scripted(*answers))
    token = driver.run(client().token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    assert token.access_token == "tok"
    assert driver.clock.sleeps == [1.0, 10.0, 3.0]


def test_exhausted_retries_report_the_last_status() -> None:
    driver = FakeDriver(scripted(*[response(503, "busy")] * 4))
    with pytest.raises(ManagedIdentityError, match="HTTP 503"):
        driver.run(client().token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    assert len(driver.sent) == 4


def test_no_permanent_unavailable_state_after_a_failure() -> None:
    mi = client()
    failing = FakeDriver(scripted(response(400, {"error": "invalid_request"})))
    with pytest.raises(ManagedIdentityError):
        failing.run(mi.token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    working = FakeDriver(scripted(response(200, ok_body())))
    assert working.run(mi.token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW)).access_token


def test_retry_scale_shrinks_waits() -> None:
    driver = FakeDriver(scripted(response(500), response(200, ok_body())))
    driver.run(
        client(retry_scale=0.001).token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW)
    )
    assert driver.clock.sleeps == [pytest.approx(0.001)]


# --- other sources -----------------------------------------------------------------------


def test_app_service_request_shape() -> None:
    env = {"IDENTITY_ENDPOINT": "http://127.0.0.1:2/msi/token", "IDENTITY_HEADER": "hdr"}
    driver = FakeDriver(
        scripted(response(200, {"access_token": "t", "expires_on": str(int(NOW) + 3600)}))
    )
    options = ManagedIdentityOptions(user_assigned_resource_id="/subscriptions/r")
    token = driver.run(client(env).token_flow(options, "api://x/.default", bound=False, now=NOW))
    request = driver.sent[0]
    assert request.headers == {"X-IDENTITY-HEADER": "hdr"}
    assert query(request) == {
        "api-version": "2019-08-01",
        "resource": "api://x",
        "mi_res_id": "/subscriptions/r",
    }
    assert token.refresh_on is None


def test_app_service_error_shape_and_linear_retries() -> None:
    env = {"IDENTITY_ENDPOINT": "http://127.0.0.1:2/msi/token", "IDENTITY_HEADER": "hdr"}
    error = response(500, {"statusCode": 500, "message": "boom", "correlationId": "c"})
    driver = FakeDriver(scripted(*[error] * 4))
    with pytest.raises(ManagedIdentityError, match=r"AppService.*HTTP 500.*boom"):
        driver.run(client(env).token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    assert driver.clock.sleeps == [1.0, 1.0, 1.0]


def test_cloud_shell_posts_a_form() -> None:
    env = {"MSI_ENDPOINT": "http://127.0.0.1:3/oauth2/token"}
    driver = FakeDriver(scripted(response(200, {"access_token": "t", "expires_in": "3600"})))
    driver.run(client(env).token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    request = driver.sent[0]
    assert (request.method, request.url, dict(request.form or {})) == (
        "POST",
        "http://127.0.0.1:3/oauth2/token",
        {"resource": "api://x"},
    )
    assert request.headers["Metadata"] == "true"


def test_service_fabric_pins_the_server_and_never_retries_404() -> None:
    env = {
        "IDENTITY_ENDPOINT": "https://127.0.0.1:4/token",
        "IDENTITY_HEADER": "sfsecret",
        "IDENTITY_SERVER_THUMBPRINT": "AB:CD:EF",
    }
    driver = FakeDriver(scripted(response(404, {"error": {"code": "NotFound", "message": "m"}})))
    with pytest.raises(ManagedIdentityError, match=r"ServiceFabric.*404"):
        driver.run(client(env).token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    request = driver.sent[0]
    assert request.pinned_server_sha1 == "abcdef"
    assert request.headers == {"secret": "sfsecret"}
    assert query(request)["api-version"] == "2019-07-01-preview"
    assert driver.clock.sleeps == []


def test_service_fabric_requires_https() -> None:
    env = {
        "IDENTITY_ENDPOINT": "http://x",
        "IDENTITY_HEADER": "s",
        "IDENTITY_SERVER_THUMBPRINT": "t",
    }
    with pytest.raises(ManagedIdentityError, match="https"):
        FakeDriver(scripted()).run(client(env).token_flow(SYSTEM, "api://x", bound=False, now=NOW))


def test_machine_learning_uses_clientid_and_the_default_identity() -> None:
    env = {
        "MSI_ENDPOINT": "http://127.0.0.1:5/token",
        "MSI_SECRET": "mls",
        "DEFAULT_IDENTITY_CLIENT_ID": "sys",
    }
    body = {"access_token": "t", "expires_on": "12/13/2023 00:57:14 +00:00"}
    driver = FakeDriver(scripted(response(200, body), response(200, body)))
    token = driver.run(client(env).token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    assert token.expires_on == 1702429034.0
    assert query(driver.sent[0])["clientid"] == "sys"
    assert driver.sent[0].headers["secret"] == "mls"
    options = ManagedIdentityOptions(user_assigned_client_id="uami")
    driver.run(client(env).token_flow(options, "api://x/.default", bound=False, now=NOW))
    assert query(driver.sent[1])["clientid"] == "uami"


def arc_env() -> dict[str, str]:
    return {
        "IDENTITY_ENDPOINT": "http://127.0.0.1:6/metadata/identity/oauth2/token",
        "IMDS_ENDPOINT": "http://127.0.0.1:6",
    }


def test_arc_answers_the_challenge_with_the_key_file(tmp_path: Path) -> None:
    key = tmp_path / "abc.key"
    key.write_text("s3cret\n")
    challenge = response(401, b"", {"WWW-Authenticate": f"Basic realm={key}"})
    driver = FakeDriver(scripted(challenge, response(200, ok_body())))
    mi = client(arc_env(), arc_key_directory=str(tmp_path))
    token = driver.run(mi.token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))
    assert token.access_token == "tok"
    first, second = driver.sent
    assert "Authorization" not in first.headers
    assert second.headers["Authorization"] == "Basic s3cret"
    assert query(second)["api-version"] == "2020-06-01"


@pytest.mark.parametrize("name", ["../abc.key", "abc.txt", "sub/abc.key"])
def test_arc_refuses_key_files_outside_the_agent_directory(tmp_path: Path, name: str) -> None:
    realm = f"{tmp_path}/{name}"
    challenge = response(401, b"", {"WWW-Authenticate": f"Basic realm={realm}"})
    driver = FakeDriver(scripted(challenge))
    mi = client(arc_env(), arc_key_directory=str(tmp_path))
    with pytest.raises(ManagedIdentityError, match="refusing"):
        driver.run(mi.token_flow(SYSTEM, "api://x/.default", bound=False, now=NOW))


def test_arc_refuses_oversized_key_files(tmp_path: Path) -> None:
    key = tmp_path / "big.key"
    key.write_text("x" * 4097)
    challenge = response(401, b"", {"WWW-Authenticate": f"Basic realm={key}"})
    mi = client(arc_env(), arc_key_directory=str(tmp_path))
    with pytest.raises(ManagedIdentityError, match="4097 bytes"):
        FakeDriver(scripted(challenge)).run(mi.token_flow(SYSTEM, "api://x", bound=False, now=NOW))


def test_arc_refuses_user_assigned_identities_before_any_request() -> None:
    mi = client(arc_env())
    options = ManagedIdentityOptions(user_assigned_client_id="cid")
    with pytest.raises(ManagedIdentityError, match=r"AzureArc.*only supports the system-assigned"):
        FakeDriver(scripted()).run(mi.token_flow(options, "api://x", bound=False, now=NOW))


def test_arc_detected_from_the_agent_binary(tmp_path: Path) -> None:
    agent = tmp_path / "himds"
    agent.write_text("")
    mi = ManagedIdentityClient(environ={}, arc_agent_path=str(agent))
    assert mi.detect().source.value == "AzureArc"


def test_bound_tokens_need_imds() -> None:
    env = {"IDENTITY_ENDPOINT": "http://a", "IDENTITY_HEADER": "h"}
    with pytest.raises(ManagedIdentityError, match="need IMDS v2"):
        FakeDriver(scripted()).run(client(env).token_flow(SYSTEM, "api://x", bound=True, now=NOW))


def test_cache_key_identity() -> None:
    assert ManagedIdentityId.of(SYSTEM).cache_key == "system"
    assert ManagedIdentityId.of(None).cache_key == "system"
    assert (
        ManagedIdentityId.of(ManagedIdentityOptions(user_assigned_client_id="c")).cache_key
        == "client_id:c"
    )
