"""`UseBoundCredential` (a Bearer token whose credential went over mTLS), per credential:
a certificate asks the mTLS host with its signed assertion and no token_type; FIC runs leg 1
with the IMDS v2 certificate and leg 2 over mTLS; a token file is IDW10115; a secret is a
configuration error. The emulator holds a bound request to the certificate presented at TLS: a
jwt-bearer assertion from another certificate (even one registered for the app) and a jwt-pop
whose cnf names another certificate are refused. All against the emulator by the production
names over real TLS."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import testkit
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from e2e_helpers import API, certificate_config, secret_config

from identity_web import ConfigurationError, TokenAcquirerFactory
from identity_web.acquisition._plan import Planner
from identity_web.credentials import CertificateCredential
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.protocol import BindingCertificate, HttpRequest, HttpResponse, rfc7523
from identity_web.settings import IdentityWebSettings, MicrosoftIdentityApplicationOptions
from identity_web.transport import ConnectTo, HttpTransport

PUBLIC = "https://login.microsoftonline.com/"
MTLS = "entra.mtls_token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_POP = "urn:ietf:params:oauth:client-assertion-type:jwt-pop"


def build(config: dict[str, Any], manifest: EmulatorManifest) -> Any:
    environ = manifest.env()
    environ.pop("AZURE_POD_IDENTITY_AUTHORITY_HOST")  # IMDS at 169.254.169.254
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=environ)
    factory.add_downstream_api(API)
    return factory.build()


def bound(config: dict[str, Any]) -> dict[str, Any]:
    config["AzureAd"]["Instance"] = PUBLIC
    config["AzureAd"]["ClientCredentials"][0]["UseBoundCredential"] = True
    return config


def test_a_bound_certificate_gets_a_bearer_token_from_the_mtls_host(emulator: Emulator) -> None:
    manifest = emulator.manifest
    with build(bound(certificate_config(manifest)), manifest) as services:
        first = services.downstream_api.call(API)
        second = services.downstream_api.call(API)
    assert (first.status, first.token_type, first.binding_certificate) == (200, "Bearer", None)
    assert second.status == 200
    (request,) = emulator.requests(MTLS)  # the second call was served from the cache
    assert emulator.requests("entra.token") == []
    assert request["headers"]["host"] == "mtlsauth.microsoft.com"
    assert request["client_cert_x5t_s256"] == emulator.demo_credential.x5t_s256
    assert request["form"]["client_assertion_type"].endswith(":jwt-bearer")
    assert request["form"]["client_assertion"] == "***"  # sent (and masked in the log)
    assert "token_type" not in request["form"]
    assert emulator.requests("resource")[0]["status"] == 200


def test_the_same_certificate_without_the_flag_stays_on_the_login_host(
    emulator: Emulator,
) -> None:
    manifest = emulator.manifest
    config = certificate_config(manifest)
    config["AzureAd"]["Instance"] = PUBLIC
    with build(config, manifest) as services:
        assert services.downstream_api.call(API).token_type == "Bearer"
    assert emulator.requests(MTLS) == []
    assert len(emulator.requests("entra.token")) == 1


def test_fic_with_a_bound_credential_runs_both_legs_over_mtls_and_ends_bearer(
    emulator: Emulator,
) -> None:
    manifest = emulator.manifest
    app = next(app for app in manifest.apps if app.federated_managed_identities)
    config = certificate_config(manifest)
    config["AzureAd"]["ClientId"] = app.client_id
    config["AzureAd"]["ClientCredentials"] = [
        {
            "SourceType": "SignedAssertionFromManagedIdentity",
            "ManagedIdentityClientId": app.federated_managed_identities[-1],
        }
    ]
    with build(bound(config), manifest) as services:
        response = services.downstream_api.call(API)
    assert (response.status, response.token_type) == (200, "Bearer")
    leg1, leg2 = emulator.requests(MTLS)
    assert leg1["form"]["token_type"] == "mtls_pop"  # the managed identity's bound token
    assert leg2["headers"]["host"] == "mtlsauth.microsoft.com"
    assert leg2["form"]["client_assertion_type"].endswith(":jwt-pop")
    assert "token_type" not in leg2["form"]
    assert leg2["client_cert_x5t_s256"] == leg1["client_cert_x5t_s256"] is not None
    assert emulator.requests("entra.token") == []


def test_a_token_file_with_use_bound_credential_is_idw10115(manifest: EmulatorManifest) -> None:
    config = certificate_config(manifest)
    config["AzureAd"]["ClientCredentials"] = [
        {"SourceType": "SignedAssertionFilePath", "SignedAssertionFileDiskPath": "/nonexistent"}
    ]
    with pytest.raises(ConfigurationError, match="IDW10115") as refused:
        build(bound(config), manifest)
    assert "AzureAd.ClientCredentials[0].UseBoundCredential" in str(refused.value)


def test_a_secret_with_use_bound_credential_is_a_configuration_error(
    manifest: EmulatorManifest,
) -> None:
    with pytest.raises(ConfigurationError, match="client secret cannot be bound") as refused:
        build(bound(secret_config(manifest)), manifest)
    assert "AzureAd.ClientCredentials[0].UseBoundCredential" in str(refused.value)


def test_bound_credential_tokens_have_their_own_cache_key() -> None:
    """A Bearer token obtained over mTLS and a plain one never share a cache entry."""
    app = MicrosoftIdentityApplicationOptions.model_validate(
        {"Instance": PUBLIC, "TenantId": "contoso.onmicrosoft.com", "ClientId": "app"}
    )
    planner = Planner(app, None, None)
    plain = CertificateCredential(testkit.make_certificate(), "Path=app.pfx")
    over_mtls = CertificateCredential(plain.certificate, "Path=app.pfx", use_bound_credential=True)
    scope = "api://resource/.default"
    plain_key = planner.plan(scope, None, bound=False, credential=plain).key
    bound_key = planner.plan(scope, None, bound=False, credential=over_mtls).key
    assert bound_key.credential_bound
    assert not plain_key.credential_bound
    assert bound_key != plain_key
    assert bound_key.as_string() != plain_key.as_string()


# -- the emulator checks the certificate behind a bound request ---------------------------------


@pytest.fixture
def second_certificate(emulator: Emulator) -> Iterator[BindingCertificate]:
    """Another certificate registered for the demo app (its own key and subject)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "second app certificate")])
    issued = emulator.state.ca.issue(key.public_key(), subject, days=1)
    second = BindingCertificate.create(issued, key, (emulator.state.ca.certificate,))
    emulator.demo_app.certificates.append(issued)
    try:
        yield second
    finally:
        emulator.demo_app.certificates.remove(issued)


def mtls_token_url(manifest: EmulatorManifest) -> str:
    return f"https://mtlsauth.microsoft.com/{manifest.tenant_id}/oauth2/v2.0/token"


def post_over_mtls(
    manifest: EmulatorManifest, presented: BindingCertificate, **fields: str
) -> HttpResponse:
    """A token request by hand to mtlsauth.microsoft.com (routed to the emulator by the
    resolver seam), presenting `presented` at TLS."""
    form = {
        "grant_type": "client_credentials",
        "client_id": manifest.apps[0].client_id,
        "scope": manifest.resource.scope,
        **fields,
    }
    connect_to = ConnectTo.from_environ(manifest.env())
    request = HttpRequest("POST", mtls_token_url(manifest), form=form, tls_identity=presented)
    with HttpTransport(ca_bundle=manifest.ca_bundle, connect_to=connect_to) as transport:
        return transport.send(request)


@pytest.mark.parametrize("send_x5c", [False, True], ids=["x5t#S256", "x5c"])
def test_an_assertion_from_another_certificate_than_the_tls_one_is_refused(
    emulator: Emulator, second_certificate: BindingCertificate, send_x5c: bool
) -> None:
    """UseBoundCredential's request shape with the assertion signed by a second registered
    certificate while the first is presented: 9900005; the second one on both sides works."""
    manifest = emulator.manifest
    assertion = rfc7523.client_assertion(
        second_certificate,
        client_id=manifest.apps[0].client_id,
        audience=mtls_token_url(manifest),
        now=time.time(),
        send_x5c=send_x5c,
    )
    fields = {"client_assertion_type": JWT_BEARER, "client_assertion": assertion}
    refused = post_over_mtls(manifest, emulator.demo_credential, **fields)
    body = refused.json_object()
    assert (refused.status, body["error"], body["error_codes"]) == (
        401,
        "invalid_client",
        [9900005],
    )
    assert second_certificate.x5t_s256 in body["error_description"]
    accepted = post_over_mtls(manifest, second_certificate, **fields)
    assert accepted.status == 200
    assert accepted.json_object()["token_type"] == "Bearer"
    hosts = {entry["headers"]["host"] for entry in emulator.requests(MTLS)}
    assert hosts == {"mtlsauth.microsoft.com"}


def test_a_jwt_pop_whose_cnf_names_another_certificate_is_refused(
    emulator: Emulator, second_certificate: BindingCertificate
) -> None:
    """A federated token bound to one certificate, presented with another: 9900004; with the
    certificate its cnf names, it is accepted."""
    state = emulator.state
    trusted = emulator.demo_app.federated_managed_identities[0]
    identity = state.find_managed_identity(client_id=trusted)
    assert identity is not None
    bound = state.mint_access_token(
        client_id=identity.client_id,
        object_id=identity.object_id,
        audience="api://AzureADTokenExchange",
        appidacr="2",
        cnf_x5t_s256=second_certificate.x5t_s256,
    )
    fields = {"client_assertion_type": JWT_POP, "client_assertion": bound}
    manifest = emulator.manifest
    refused = post_over_mtls(manifest, emulator.demo_credential, **fields)
    assert (refused.status, refused.json_object()["error_codes"]) == (401, [9900004])
    accepted = post_over_mtls(manifest, second_certificate, token_type="mtls_pop", **fields)
    assert accepted.status == 200
    assert accepted.json_object()["token_type"] == "mtls_pop"
