"""TokenAcquirerFactory and the container: default instance, registration, build, overrides."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import TypeVar

import pytest
from dependency_injector import providers
from e2e_helpers import API, build, certificate_config

from identity_web import (
    BuildError,
    ConfigurationError,
    NetworkError,
    TokenAcquirerFactory,
)
from identity_web.cache import InMemoryTokenCache
from identity_web.container import resolve_ca_bundle
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.protocol.steps import Step
from identity_web.transport import Drivers, HttpTransport

T = TypeVar("T")


def _write(directory: Path, config: dict[str, object]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "appsettings.json").write_text(json.dumps(config), encoding="utf-8")
    return directory


@pytest.fixture
def config_dir(manifest: EmulatorManifest, tmp_path: Path) -> Path:
    """A directory holding the certificate + MyApi appsettings.json."""
    return _write(tmp_path / "config", certificate_config(manifest))


def test_default_instance_is_one_per_process_even_under_contention(
    manifest: EmulatorManifest, tmp_path: Path
) -> None:
    config_dir = _write(tmp_path, certificate_config(manifest))
    barrier = threading.Barrier(8)
    seen: list[TokenAcquirerFactory] = []

    def get() -> None:
        barrier.wait()
        seen.append(TokenAcquirerFactory.get_default_instance(config_dir, environ=manifest.env()))

    threads = [threading.Thread(target=get) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(factory) for factory in seen}) == 1
    assert TokenAcquirerFactory.get_default_instance() is seen[0]
    TokenAcquirerFactory.reset_default_instance()
    again = TokenAcquirerFactory.get_default_instance(config_dir, environ=manifest.env())
    assert again is not seen[0]


def test_default_instance_reads_files_and_environment_like_a_user_app(
    manifest: EmulatorManifest, tmp_path: Path
) -> None:
    config = certificate_config(manifest)
    real_client_id = config["AzureAd"]["ClientId"]
    config["AzureAd"]["ClientId"] = "00000000-0000-0000-0000-000000000000"
    config_dir = _write(tmp_path, config)
    environ = {**manifest.env(), "AzureAd__ClientId": real_client_id}
    factory = TokenAcquirerFactory.get_default_instance(config_dir, environ=environ)
    assert factory.settings.azure_ad.client_id == real_client_id
    with factory.add_downstream_api(API).build() as services:
        assert services.downstream_api.call(API).json()["appid"] == real_client_id


def test_unknown_downstream_api_is_a_configuration_error_naming_it(
    manifest: EmulatorManifest,
    config_dir: Path,
) -> None:
    factory = TokenAcquirerFactory.from_config_dir(config_dir, environ=manifest.env())
    with pytest.raises(ConfigurationError, match="NoSuchApi") as raised:
        factory.add_downstream_api("NoSuchApi")
    assert "MyApi" in str(raised.value)


def test_build_twice_is_refused_and_so_is_registering_after_build(
    manifest: EmulatorManifest,
    config_dir: Path,
) -> None:
    factory = TokenAcquirerFactory.from_config_dir(config_dir, environ=manifest.env())
    factory.add_downstream_api("myapi")
    with factory.build():
        with pytest.raises(BuildError, match=r"build\(\) was already called"):
            factory.build()
        with pytest.raises(BuildError, match="add_downstream_api"):
            factory.add_downstream_api(API)


def test_tests_swap_a_provider_instead_of_patching_modules(
    manifest: EmulatorManifest, config_dir: Path
) -> None:
    shared_cache = InMemoryTokenCache()
    for _ in range(2):
        factory = TokenAcquirerFactory.from_config_dir(config_dir, environ=manifest.env())
        factory.container.token_cache.override(providers.Object(shared_cache))
        with factory.add_downstream_api(API).build() as services:
            result = services.token_acquirer.acquire_token_for_app(manifest.resource.scope)
    assert len(shared_cache) == 1
    assert result.token_source.value == "cache"


class CountingTransport:
    """Wraps the real transport and counts what goes through it (composition, no patching)."""

    def __init__(self, inner: HttpTransport) -> None:
        self.inner = inner
        self.sent: list[str] = []
        self.flows = 0
        self.drivers = Drivers(self.attempt, self.attempt_async)

    def attempt(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request.method)
        return self.inner.attempt(request)

    async def attempt_async(self, request: HttpRequest) -> HttpResponse:
        self.sent.append(request.method)
        return await self.inner.attempt_async(request)

    def run(self, step: Step[T]) -> T:
        self.flows += 1
        return self.drivers.run(step)

    async def run_async(self, step: Step[T]) -> T:
        self.flows += 1
        return await self.drivers.run_async(step)

    def close(self) -> None:
        self.inner.close()


def test_overriding_the_transport_reaches_acquirer_and_downstream_api(
    manifest: EmulatorManifest, config_dir: Path
) -> None:
    factory = TokenAcquirerFactory.from_config_dir(config_dir, environ=manifest.env())
    counting = CountingTransport(HttpTransport(ca_bundle=manifest.ca_bundle))
    factory.container.transport.override(providers.Object(counting))
    with factory.add_downstream_api(API).build() as services:
        services.downstream_api.put(API, json={})
    counting.close()
    assert counting.flows == 1  # one step, token and call: no driver runs another
    assert counting.sent == ["POST", "PUT"]


def test_the_manifest_alone_tells_the_container_what_to_trust(
    manifest: EmulatorManifest, emulator: Emulator, tmp_path: Path, config_dir: Path
) -> None:
    manifest_path = tmp_path / "manifest.json"
    emulator.write_files(manifest_path, None)
    environ = {"IDENTITY_WEB_EMULATOR_MANIFEST": str(manifest_path)}
    assert resolve_ca_bundle(environ) == manifest.ca_bundle
    assert resolve_ca_bundle({"SSL_CERT_FILE": "/x.pem", **environ}) == "/x.pem"
    factory = TokenAcquirerFactory.from_config_dir(config_dir, environ=environ)
    with factory.add_downstream_api(API).build() as services:
        assert services.downstream_api.call(API).status == 200


def test_without_the_emulator_ca_tls_verification_fails_closed(
    manifest: EmulatorManifest,
    config_dir: Path,
) -> None:
    """The session emulator's CA is new, so no system store trusts it: the call must fail."""
    factory = TokenAcquirerFactory.from_config_dir(config_dir, environ={})
    with factory.add_downstream_api(API).build() as services, pytest.raises(NetworkError):
        services.downstream_api.call(API)


async def test_service_provider_closes_its_clients(manifest: EmulatorManifest) -> None:
    services = build(certificate_config(manifest, ProtocolScheme="MTLS_POP"), manifest)
    assert (await services.downstream_api.call_async(API)).status == 200
    transport = services.container.transport()
    await services.aclose()
    assert len(transport._async_clients) == 0
    assert len(transport._clients) == 0
    await services.aclose()  # idempotent


def test_an_unreadable_manifest_is_a_configuration_error(tmp_path: Path) -> None:
    broken = tmp_path / "manifest.json"
    broken.write_text("{not json", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="IDENTITY_WEB_EMULATOR_MANIFEST"):
        resolve_ca_bundle({"IDENTITY_WEB_EMULATOR_MANIFEST": str(broken)})
    assert resolve_ca_bundle({}) is None
