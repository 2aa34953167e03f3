"""The first IMDS v2 key is made in the background while the services are built (issue 17,
point 5): only when the configuration asks a managed identity for bound tokens, used by the
first call (sync and asyncio), and no thread is left behind.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.container import asks_bound_managed_identity, registered_apis
from identity_web.managed_identity import SoftwareKeyProvider
from identity_web.protocol import HttpRequest, HttpResponse
from identity_web.settings import IdentityWebSettings
from identity_web.transport import AsyncDriver, SyncDriver

API = "MyApi"
SPARE_THREAD = "identity-web-spare-key"


class RecordingKeys:
    """A key factory that notes the thread each key was made in."""

    def __init__(self, fail: bool = False) -> None:
        self.threads: list[str] = []
        self.fail = fail

    def __call__(self) -> rsa.RSAPrivateKey:
        self.threads.append(threading.current_thread().name)
        if self.fail:
            raise ValueError("no entropy today")
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _no_network(request: HttpRequest) -> HttpResponse:
    raise AssertionError(f"a key step sent {request.method} {request.url}")


async def _no_network_async(request: HttpRequest) -> HttpResponse:
    return _no_network(request)


# -- the provider: the spare first, then keys made when needed --------------------------------


def test_a_prepared_provider_hands_out_the_spare_first_then_makes_keys_when_needed() -> None:
    keys = RecordingKeys()
    provider = SoftwareKeyProvider(keys)
    provider.prepare()
    provider.prepare()  # once only
    driver = SyncDriver(_no_network)
    first = driver.run(provider.key_step())
    second = driver.run(provider.key_step())
    assert isinstance(first, rsa.RSAPrivateKey)
    assert first.private_numbers() != second.private_numbers()
    assert keys.threads == [SPARE_THREAD, threading.current_thread().name]


def test_an_asyncio_step_awaits_the_spare_on_the_loop() -> None:
    keys = RecordingKeys()
    provider = SoftwareKeyProvider(keys)
    provider.prepare()
    key = asyncio.run(AsyncDriver(_no_network_async).run(provider.key_step()))
    assert isinstance(key, rsa.RSAPrivateKey)
    assert keys.threads == [SPARE_THREAD]


def test_a_provider_not_prepared_makes_its_key_in_the_step() -> None:
    keys = RecordingKeys()
    SyncDriver(_no_network).run(SoftwareKeyProvider(keys).key_step())
    assert keys.threads == [threading.current_thread().name]


def test_a_spare_that_failed_raises_in_the_step_that_takes_it() -> None:
    provider = SoftwareKeyProvider(RecordingKeys(fail=True))
    provider.prepare()
    with pytest.raises(ValueError, match="no entropy today"):
        SyncDriver(_no_network).run(provider.key_step())


def test_a_process_forked_while_the_spare_is_made_makes_its_own_key() -> None:
    """A pre-forking server builds, then forks: the child must not wait for a thread that did
    not follow it, nor share the parent's key."""
    release = threading.Event()

    def keys() -> rsa.RSAPrivateKey:
        if threading.current_thread().name == SPARE_THREAD:
            assert release.wait(10)
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    provider = SoftwareKeyProvider(keys)
    provider.prepare()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through its exit code
        key = SyncDriver(_no_network).run(provider.key_step())
        os._exit(0 if isinstance(key, rsa.RSAPrivateKey) else 1)
    release.set()
    deadline = time.monotonic() + 20
    while (done := os.waitpid(child, os.WNOHANG))[0] == 0:
        if time.monotonic() > deadline:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the forked child waited for the parent's spare key")
        time.sleep(0.01)
    assert os.waitstatus_to_exitcode(done[1]) == 0
    assert isinstance(SyncDriver(_no_network).run(provider.key_step()), rsa.RSAPrivateKey)


# -- which configurations make their key early ------------------------------------------------


def _config(manifest: Any, scheme: str, credential: dict[str, Any] | None = None) -> Any:
    api: dict[str, Any] = {
        "BaseUrl": manifest.resource.base_url,
        "RelativePath": "whoami",
        "Scopes": [manifest.resource.scope],
        "ProtocolScheme": scheme,
    }
    azure_ad: dict[str, Any] = {}
    if credential is None:
        api["AcquireTokenOptions"] = {"ManagedIdentity": {}}
    else:
        app = manifest.apps[0]
        api["RequestAppToken"] = True
        azure_ad = {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": app.client_id,
            "ClientCredentials": [credential],
        }
    return {"AzureAd": azure_ad, API: api}


FIC = {"SourceType": "SignedAssertionFromManagedIdentity"}


@pytest.mark.parametrize(
    ("scheme", "credential", "early"),
    [
        ("MTLS_POP", None, True),
        ("Bearer", None, False),
        ("MTLS_POP", FIC, True),
        ("Bearer", FIC, False),
        ("Bearer", {**FIC, "UseBoundCredential": True}, True),
        ("MTLS_POP", {"SourceType": "ClientSecret", "ClientSecret": "x"}, False),
    ],
)
def test_only_a_managed_identity_asked_for_bound_tokens_makes_its_key_early(
    manifest: Any, scheme: str, credential: dict[str, Any] | None, early: bool
) -> None:
    settings = IdentityWebSettings.from_mapping(_config(manifest, scheme, credential))
    apis = registered_apis(settings, [API])
    assert asks_bound_managed_identity(settings, apis) is early


# -- the real stack over the emulator's IMDS v2 -----------------------------------------------


def _build(emulator: Any, keys: Callable[[], rsa.RSAPrivateKey]) -> ServiceProvider:
    settings = IdentityWebSettings.from_mapping(_config(emulator.manifest, "MTLS_POP"))
    factory = TokenAcquirerFactory(settings, environ=dict(emulator.manifest.env()))
    factory.container.managed_identity.add_kwargs(key_factory=keys)
    factory.add_downstream_api(API)
    return factory.build()


@pytest.mark.parametrize("mode", ["sync", "asyncio"])
def test_the_first_bound_call_uses_the_key_made_while_building(emulator: Any, mode: str) -> None:
    keys = RecordingKeys()
    with _build(emulator, keys) as services:
        if mode == "sync":
            response = services.downstream_api.call(API)
        else:

            async def call_then_close() -> Any:
                async with services:  # its async clients belong to this loop
                    return await services.downstream_api.call_async(API)

            response = asyncio.run(call_then_close())
        assert response.status == 200
        assert response.json()["scheme"] == "mtls_pop"
    assert keys.threads == [SPARE_THREAD]


def test_closing_right_after_building_leaves_no_thread(emulator: Any) -> None:
    before = set(threading.enumerate())
    keys = RecordingKeys()
    with _build(emulator, keys):
        pass
    deadline = time.monotonic() + 10
    while set(threading.enumerate()) - before:
        assert time.monotonic() < deadline, set(threading.enumerate()) - before
        time.sleep(0.02)
    assert keys.threads == [SPARE_THREAD]  # it was started, and it ended on its own
