"""Non-IMDS managed identity sources over real sockets: the emulator's hosting endpoints.

Each test takes the variables the hosting platform would set (`hosting_environment`) and runs
the client's flow through HttpTransport, as an application on that platform would.
"""

from __future__ import annotations

import time
from pathlib import PurePath
from typing import Any

import httpx
import jwt
import pytest

from identity_web import ManagedIdentityError, NetworkError
from identity_web.emulator import Emulator, EmulatorConfig
from identity_web.managed_identity import ManagedIdentityClient
from identity_web.protocol import TokenResponse
from identity_web.settings import ManagedIdentityOptions
from identity_web.transport import HttpTransport

SCOPE = "https://vault.azure.net/.default"
SYSTEM = ManagedIdentityOptions()


def client(environ: dict[str, str], **kwargs: Any) -> ManagedIdentityClient:
    return ManagedIdentityClient(
        environ=environ, retry_scale=0.001, arc_agent_path="/nonexistent/himds", **kwargs
    )


def run(
    transport: HttpTransport, mi: ManagedIdentityClient, options: ManagedIdentityOptions = SYSTEM
) -> TokenResponse:
    return transport.run(mi.token_flow(options, SCOPE, bound=False, now=time.time()))


def appid(token: TokenResponse) -> str:
    return str(jwt.decode(token.access_token, options={"verify_signature": False})["appid"])


def user(emulator: Any) -> Any:
    return next(mi for mi in emulator.state.managed_identities if mi.kind == "UserAssigned")


def test_app_service_system_and_user_assigned(emulator: Any, transport: HttpTransport) -> None:
    env = emulator.hosting_environment("app_service")
    mi = client(env)
    assert mi.detect().source.value == "AppService"
    assert appid(run(transport, mi)) == emulator.state.find_managed_identity().client_id
    uami = user(emulator)
    for options in (
        ManagedIdentityOptions(user_assigned_client_id=uami.client_id),
        ManagedIdentityOptions(user_assigned_object_id=uami.object_id),
        ManagedIdentityOptions(user_assigned_resource_id=uami.resource_id),
    ):
        assert appid(run(transport, mi, options)) == uami.client_id
    entries = emulator.requests("appservice.token")
    assert {e["query"]["api-version"] for e in entries} == {"2019-08-01"}
    assert "mi_res_id" in entries[-1]["query"]
    assert entries[0]["headers"]["x-identity-header"] == "***"  # the log masks the secret


def test_app_service_wrong_secret_is_reported(emulator: Any, transport: HttpTransport) -> None:
    env = {**emulator.hosting_environment("app_service"), "IDENTITY_HEADER": "wrong"}
    with pytest.raises(ManagedIdentityError, match=r"AppService.*HTTP 400.*X-IDENTITY-HEADER"):
        run(transport, client(env))


def test_app_service_retries_linearly(emulator: Any, transport: HttpTransport) -> None:
    emulator.inject_faults("appservice.token", [{"status": 503}, {"status": 429}])
    assert run(transport, client(emulator.hosting_environment("app_service"))).access_token
    assert [e["status"] for e in emulator.requests("appservice.token")] == [503, 429, 200]


def arc_key_directory(environ: dict[str, str]) -> str:
    """Where this Arc agent writes its key files: the folder of the realm its challenge names."""
    answer = httpx.get(
        environ["IDENTITY_ENDPOINT"],
        params={"api-version": "2020-06-01", "resource": "x"},
        headers={"Metadata": "true"},
    )
    assert answer.status_code == 401
    realm = answer.headers["www-authenticate"].split("realm=", 1)[1]
    return str(PurePath(realm).parent)


def test_arc_challenge_and_key_file(emulator: Any, transport: HttpTransport) -> None:
    env = emulator.hosting_environment("arc")
    mi = client(env, arc_key_directory=arc_key_directory(env))
    assert mi.detect().source.value == "AzureArc"
    token = run(transport, mi)
    assert appid(token) == emulator.state.find_managed_identity().client_id
    statuses = [e["status"] for e in emulator.requests("arc.token")]
    assert statuses[-2:] == [401, 200]
    assert emulator.requests("arc.token")[-1]["headers"]["authorization"] == "Basic ***"


def test_arc_key_file_outside_the_allowed_directory_is_refused(
    emulator: Any, transport: HttpTransport, tmp_path: Any
) -> None:
    mi = client(emulator.hosting_environment("arc"), arc_key_directory=str(tmp_path))
    with pytest.raises(ManagedIdentityError, match="outside"):
        run(transport, mi)


def test_arc_refuses_user_assigned_without_calling_the_agent(
    emulator: Any, transport: HttpTransport
) -> None:
    mi = client(emulator.hosting_environment("arc"))
    with pytest.raises(ManagedIdentityError, match="only supports the system-assigned"):
        run(transport, mi, ManagedIdentityOptions(user_assigned_client_id=user(emulator).client_id))
    assert emulator.requests("arc.token") == []


def test_cloud_shell(emulator: Any, transport: HttpTransport) -> None:
    mi = client(emulator.hosting_environment("cloud_shell"))
    assert mi.detect().source.value == "CloudShell"
    assert appid(run(transport, mi)) == emulator.state.find_managed_identity().client_id
    (entry,) = emulator.requests("cloudshell.token")
    assert entry["method"] == "POST"
    assert entry["form"] == {"resource": "https://vault.azure.net"}
    with pytest.raises(ManagedIdentityError, match="only supports the system-assigned"):
        run(transport, mi, ManagedIdentityOptions(user_assigned_client_id=user(emulator).client_id))


def test_service_fabric_pins_the_server_certificate(emulator: Any) -> None:
    env = emulator.hosting_environment("service_fabric")
    mi = client(env)
    assert mi.detect().source.value == "ServiceFabric"
    with HttpTransport() as untrusting:  # no emulator CA: only the pin makes the server trusted
        token = run(untrusting, mi)
    assert appid(token) == emulator.state.find_managed_identity().client_id


def test_service_fabric_wrong_pin_is_refused(emulator: Any) -> None:
    env = {
        **emulator.hosting_environment("service_fabric"),
        "IDENTITY_SERVER_THUMBPRINT": "00" * 20,
    }
    with HttpTransport() as transport, pytest.raises(NetworkError, match="not the pinned"):
        run(transport, client(env))
    assert emulator.requests("servicefabric.token") == []


def test_machine_learning(emulator: Any, transport: HttpTransport) -> None:
    env = emulator.hosting_environment("machine_learning")
    mi = client(env)
    assert mi.detect().source.value == "MachineLearning"
    assert appid(run(transport, mi)) == emulator.state.find_managed_identity().client_id
    uami = user(emulator)
    assert (
        appid(run(transport, mi, ManagedIdentityOptions(user_assigned_client_id=uami.client_id)))
        == uami.client_id
    )
    assert emulator.requests("machinelearning.token")[-1]["query"]["clientid"] == uami.client_id


def test_bound_tokens_are_refused_off_imds(emulator: Any, transport: HttpTransport) -> None:
    mi = client(emulator.hosting_environment("app_service"))
    with pytest.raises(ManagedIdentityError, match=r"need IMDS v2.*AppService"):
        transport.run(mi.token_flow(SYSTEM, SCOPE, bound=True, now=time.time()))


@pytest.fixture(scope="module")
def v1_only_emulator() -> Any:
    with Emulator(EmulatorConfig(imds_v2_enabled=False)) as emulator:
        yield emulator


def test_v1_only_emulator(v1_only_emulator: Any) -> None:
    env = {"AZURE_POD_IDENTITY_AUTHORITY_HOST": v1_only_emulator.manifest.imds_endpoint}
    mi = client(env)
    with HttpTransport(ca_bundle=v1_only_emulator.manifest.ca_bundle) as transport:
        with pytest.raises(ManagedIdentityError, match="only has IMDS v1"):
            transport.run(mi.token_flow(SYSTEM, SCOPE, bound=True, now=time.time()))
        assert run(transport, mi).token_type == "Bearer"
