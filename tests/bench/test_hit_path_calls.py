"""The cache-hit path stays short: 2 Python-level calls per sync hit (the public method and
`cached_header`) and 1 per asyncio hit (the public method, which returns the held header's
already finished `Ready`: no coroutine frame), Bearer and mTLS PoP, and no object kept per call
(the same header and the same `Ready` every time). Issue 17 allows at most 8.

Counted with `sys.setprofile` (every Python function entered, ours or not), against the real
stack built by `TokenAcquirerFactory` over the emulator, after one call filled the cache.
"""

from __future__ import annotations

import gc
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import pytest

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.emulator import EmulatorManifest
from identity_web.settings import IdentityWebSettings

API = "MyApi"
MAX_CALLS = 2


def _config(manifest: EmulatorManifest, scheme: str) -> dict[str, Any]:
    app = manifest.apps[0]
    credential: dict[str, Any] = (
        {
            "SourceType": "Path",
            "CertificateDiskPath": app.certificate_pfx_path,
            "CertificatePassword": app.certificate_pfx_password,
        }
        if scheme == "MTLS_POP"
        else {"SourceType": "ClientSecret", "ClientSecret": app.client_secret}
    )
    return {
        "AzureAd": {
            "Instance": manifest.instance,
            "TenantId": manifest.tenant_id,
            "ClientId": app.client_id,
            "ClientCredentials": [credential],
        },
        API: {
            "BaseUrl": manifest.resource.base_url,
            "Scopes": [manifest.resource.scope],
            "RequestAppToken": True,
            "ProtocolScheme": scheme,
        },
    }


@pytest.fixture(params=["Bearer", "MTLS_POP"])
def services(
    request: pytest.FixtureRequest, manifest: EmulatorManifest
) -> Iterator[ServiceProvider]:
    settings = IdentityWebSettings.from_mapping(_config(manifest, request.param))
    factory = TokenAcquirerFactory(settings, environ=manifest.env())
    factory.add_downstream_api(API)
    with factory.build() as built:
        yield built


def _python_calls(call: Callable[[], object]) -> list[str]:
    """The Python functions entered while `call()` runs, but this file's own (C functions are
    not counted)."""
    entered: list[str] = []

    def profile(frame: FrameType, event: str, arg: object) -> None:
        if event == "call" and frame.f_code.co_filename != __file__:
            entered.append(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return entered


def _run_coroutine(coroutine: Any) -> object:
    """Drive a coroutine that never suspends (a cache hit) to its result, in this frame."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError("a cache hit suspended: it awaited something")


def test_a_sync_hit_makes_at_most_two_python_calls(services: ServiceProvider) -> None:
    provider = services.authorization_header_provider
    options = services.downstream_api.options(API)
    provider.create_authorization_header(options)
    provider.create_authorization_header(options)
    calls = _python_calls(lambda: provider.create_authorization_header(options))
    assert len(calls) <= MAX_CALLS, calls


def test_an_asyncio_hit_makes_one_python_call(services: ServiceProvider) -> None:
    provider = services.authorization_header_provider
    options = services.downstream_api.options(API)
    provider.create_authorization_header(options)  # the miss (sync: no loop left behind)
    first = _run_coroutine(provider.create_authorization_header_async(options))
    calls = _python_calls(lambda: provider.create_authorization_header_async(options))
    assert len(calls) <= 1, calls
    assert provider.create_authorization_header_async(options) is (
        provider.create_authorization_header_async(options)
    )  # the held header's `Ready`: nothing made per call
    assert _run_coroutine(provider.create_authorization_header_async(options)) is first
    assert first is provider.create_authorization_header(options)


def test_a_hit_keeps_no_object_per_call(services: ServiceProvider) -> None:
    provider = services.authorization_header_provider
    options = services.downstream_api.options(API)
    provider.create_authorization_header(options)  # the miss fills the cache
    first = provider.create_authorization_header(options)
    kept = [provider.create_authorization_header(options) for _ in range(100)]
    assert all(header is first for header in kept)
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        kept = [provider.create_authorization_header(options) for _ in range(1000)]
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < 1000 * 8 + 4096  # the list's own slots, nothing per call besides
