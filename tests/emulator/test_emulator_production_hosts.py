"""Production host names over real TLS: each name has its certificate, the resolve map routes it,
and the OpenID configuration and IMDS v2 answer with production URLs to production names."""

from __future__ import annotations

import json
from pathlib import Path

import emulator_testkit as kit
import httpx
import pytest
from cryptography import x509

from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.emulator import _hosts as hosts

LOGIN_HOSTS = {
    "login.microsoftonline.com": "mtlsauth.microsoft.com",
    "login.microsoftonline.us": "mtlsauth.microsoftonline.us",
    "login.partner.microsoftonline.cn": "mtlsauth.partner.microsoftonline.cn",
}
MTLS_HOSTS = [
    "mtlsauth.microsoft.com",
    "westus3.mtlsauth.microsoft.com",
    "eastus2.mtlsauth.microsoft.com",  # only through the wildcard route and certificate
    "mtlsauth.microsoftonline.us",
    "westus3.mtlsauth.microsoftonline.us",
    "mtlsauth.partner.microsoftonline.cn",
]


def route(emulator: Emulator, host: str, port: int = 443) -> str:
    """Where the manifest sends `host:port`: an exact route, else the wildcard one."""
    m = emulator.manifest
    exact = m.resolve.get(f"{host}:{port}")
    if exact is not None:
        return exact
    return m.resolve_wildcards[f"*.{host.split('.', 1)[1]}:{port}"]


def by_name(
    http: httpx.Client, emulator: Emulator, method: str, host: str, path: str, **kwargs: object
) -> httpx.Response:
    """A request to `https://{host}{path}` sent to the loopback port the resolve map names,
    with SNI and certificate verification for `host` (what a resolver seam does)."""
    return http.request(
        method,
        f"https://{route(emulator, host)}{path}",
        headers={"Host": host},
        extensions={"sni_hostname": host},
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(("login", "mtls"), sorted(LOGIN_HOSTS.items()))
def test_login_hosts_publish_what_entra_publishes(
    emulator: Emulator, login: str, mtls: str
) -> None:
    tenant = emulator.manifest.tenant_id
    path = f"/{tenant}/v2.0/.well-known/openid-configuration"
    with kit.client(emulator) as http:
        config = by_name(http, emulator, "GET", login, path).json()
    assert config["mtls_endpoint_aliases"] == {
        "token_endpoint": f"https://{mtls}/{tenant}/oauth2/v2.0/token"
    }
    assert config["token_endpoint"] == f"https://{login}/{tenant}/oauth2/v2.0/token"
    assert config["jwks_uri"] == f"https://{login}/{tenant}/discovery/v2.0/keys"
    assert config["issuer"] == emulator.state.issuer  # what the tokens carry
    assert "self_signed_tls_client_auth" in config["token_endpoint_auth_methods_supported"]
    assert "tls_client_auth" not in config["token_endpoint_auth_methods_supported"]
    assert "tls_client_certificate_bound_access_tokens" not in config


@pytest.mark.parametrize("host", MTLS_HOSTS)
def test_mtls_hosts_issue_bound_tokens_by_name(emulator: Emulator, host: str) -> None:
    credential = emulator.demo_credential
    tenant = emulator.manifest.tenant_id
    with kit.client(emulator, credential) as http:
        response = by_name(
            http,
            emulator,
            "POST",
            host,
            f"/{tenant}/oauth2/v2.0/token",
            data=kit.form(emulator, token_type="mtls_pop"),
        )
    assert response.status_code == 200, response.text
    assert kit.claims_of(response.json()["access_token"])["cnf"] == {
        "x5t#S256": credential.x5t_s256
    }
    assert emulator.requests("entra.mtls_token")[-1]["headers"]["host"] == host


def test_a_name_sent_to_the_wrong_listener_fails_tls_verification(emulator: Emulator) -> None:
    """The mTLS listener has no certificate for a login name (and vice versa)."""
    login = route(emulator, "login.microsoftonline.com")
    mtls = route(emulator, "mtlsauth.microsoft.com")
    with kit.client(emulator) as http:
        for host, target in (
            ("login.microsoftonline.com", mtls),
            ("mtlsauth.microsoft.com", login),
        ):
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                http.get(
                    f"https://{target}/", headers={"Host": host}, extensions={"sni_hostname": host}
                )


def test_names_without_a_certificate_fail_tls_verification(emulator: Emulator) -> None:
    """`login.windows.net` is an alias the emulator does not serve."""
    login = route(emulator, "login.microsoftonline.com")
    with kit.client(emulator) as http, pytest.raises(httpx.ConnectError, match="VERIFY_FAILED"):
        http.get(f"https://{login}/", extensions={"sni_hostname": "login.windows.net"})


def test_loopback_discovery_points_at_the_loopback_mtls_listener(emulator: Emulator) -> None:
    m = emulator.manifest
    with kit.client(emulator) as http:
        config = http.get(f"{m.instance}{m.tenant_id}/v2.0/.well-known/openid-configuration")
    assert config.json()["mtls_endpoint_aliases"]["token_endpoint"] == kit.mtls_url(emulator)
    assert config.json()["issuer"] == f"{m.instance}{m.tenant_id}/v2.0"


def test_loopback_mtls_alias_can_be_switched_off() -> None:
    with Emulator(EmulatorConfig(loopback_mtls_alias=False)) as emulator:
        m = emulator.manifest
        with kit.client(emulator) as http:
            loopback = http.get(f"{m.instance}{m.tenant_id}/v2.0/.well-known/openid-configuration")
            public = by_name(
                http,
                emulator,
                "GET",
                "login.microsoftonline.com",
                f"/{m.tenant_id}/v2.0/.well-known/openid-configuration",
            )
    assert "mtls_endpoint_aliases" not in loopback.json()
    assert "mtls_endpoint_aliases" in public.json()


def test_imds_by_its_address_hands_out_the_regional_public_mtls_host(emulator: Emulator) -> None:
    emulator.set_attestation_mode("off")  # the host names alone
    imds = route(emulator, "169.254.169.254", 80)
    body = kit.issue_credential_body(emulator)
    with httpx.Client(timeout=10) as http:
        by_address = http.post(
            f"http://{imds}/metadata/identity/issuecredential?cred-api-version=2.0",
            headers={"Host": "169.254.169.254", "Metadata": "true"},
            json=body,
        )
        by_loopback = http.post(
            f"{emulator.manifest.imds_endpoint}/metadata/identity/issuecredential"
            "?cred-api-version=2.0",
            headers={"Metadata": "true"},
            json=body,
        )
    assert by_address.json()["mtls_authentication_endpoint"] == (
        "https://westus3.mtlsauth.microsoft.com"
    )
    assert by_loopback.json()["mtls_authentication_endpoint"] == (
        emulator.manifest.mtls_token_endpoint_base.rstrip("/")
    )


def test_each_tls_name_is_in_its_listener_certificate(emulator: Emulator) -> None:
    state = emulator.state
    for certificate, names in (
        (state.login_certificate, list(LOGIN_HOSTS)),
        (state.mtls_certificate, [*LOGIN_HOSTS.values(), "*.mtlsauth.microsoft.com"]),
    ):
        san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert set(names) <= set(san.get_values_for_type(x509.DNSName))
        certificate.verify_directly_issued_by(state.ca.certificate)


def test_env_file_carries_the_resolve_map(emulator: Emulator, tmp_path: Path) -> None:
    emulator.write_files(tmp_path / "m.json", tmp_path / "e.env")
    try:
        manifest = json.loads((tmp_path / "m.json").read_text())
        env = dict(
            line.split("=", 1) for line in (tmp_path / "e.env").read_text().splitlines() if line
        )
    finally:
        emulator.write_files(None, None)
    resolve = manifest["resolve"]
    assert resolve["169.254.169.254:80"] == emulator.manifest.imds_endpoint.removeprefix("http://")
    assert resolve["login.microsoftonline.com:443"] == emulator.manifest.instance[8:-1]
    value = env["IDENTITY_WEB_CONNECT_TO"]
    value = json.loads(value) if value.startswith('"') else value  # '*' makes the writer quote
    pairs = dict(item.split("=") for item in value.split(","))
    assert pairs == {**resolve, **manifest["resolve_wildcards"]}  # the wildcards come last


def test_mtls_pop_sent_to_a_login_name_names_that_clouds_mtls_endpoint(emulator: Emulator) -> None:
    tenant = emulator.manifest.tenant_id
    with kit.client(emulator) as http:
        response = by_name(
            http,
            emulator,
            "POST",
            "login.microsoftonline.us",
            f"/{tenant}/oauth2/v2.0/token",
            data=kit.form(emulator, token_type="mtls_pop"),
        )
    body = kit.assert_ests_error(response, status=400, code=9900001, error="invalid_request")
    assert (
        f"https://mtlsauth.microsoftonline.us/{tenant}/oauth2/v2.0/token"
        in (body["error_description"])
    )


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("login.microsoftonline.com", "login.microsoftonline.com"),
        ("Login.MicrosoftOnline.com:443", "login.microsoftonline.com"),
        ("169.254.169.254:80", "169.254.169.254"),
        ("[::1]:8443", "::1"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_host_header_names(header: str, name: str) -> None:
    assert hosts.host_name(header) == name
