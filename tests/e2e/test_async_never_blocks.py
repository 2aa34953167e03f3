"""The async API never blocks the event loop: every async entry point, every credential source.

Each case runs acquire, header and call (and a verb), cold and warm, and a credential reload,
on an event loop in debug mode, under `LoopGuard`: a blocking socket, file or lock call on the
loop thread fails the test, and so does a callback slower than `SLOW` seconds. The emulator
serves from its own threads, which the guard does not check.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from e2e_helpers import API, certificate_config
from loop_guard import LoopGuard, loop_guard
from testkit import exchange_token, invalid_client

from identity_web import (
    ServiceProvider,
    TokenAcquirerFactory,
    TokenRequestOptions,
    TokenSource,
)
from identity_web.emulator import Emulator, EmulatorManifest
from identity_web.settings import IdentityWebSettings

SLOW = 0.5
CASES = [
    ("certificate", "Bearer"),
    ("certificate", "MTLS_POP"),
    ("managed_identity", "Bearer"),
    ("managed_identity", "MTLS_POP"),
    ("fic", "Bearer"),
    ("fic", "MTLS_POP"),
    ("assertion_file", "Bearer"),
]


def settings_for(source: str, scheme: str, emulator: Emulator) -> dict[str, Any]:
    manifest = emulator.manifest
    config = certificate_config(manifest)
    if scheme != "Bearer":
        config[API]["ProtocolScheme"] = scheme
    if source == "managed_identity":
        config["AzureAd"] = {}
        config[API]["AcquireTokenOptions"] = {"ManagedIdentity": {}}
    elif source == "fic":
        app = manifest.apps[0]
        config["AzureAd"]["ClientCredentials"] = [
            {
                "SourceType": "SignedAssertionFromManagedIdentity",
                "ManagedIdentityClientId": app.federated_managed_identities[0],
            }
        ]
    elif source == "assertion_file":
        config["AzureAd"]["ClientCredentials"] = [{"SourceType": "SignedAssertionFilePath"}]
    return config


def build(source: str, scheme: str, emulator: Emulator, tmp_path: Path) -> ServiceProvider:
    manifest: EmulatorManifest = emulator.manifest
    environ = manifest.env()
    if source == "assertion_file":
        token_file = tmp_path / "azure-identity-token"
        token_file.write_text(exchange_token(emulator))
        environ = {**environ, "AZURE_FEDERATED_TOKEN_FILE": str(token_file)}
    settings = IdentityWebSettings.from_mapping(settings_for(source, scheme, emulator))
    return TokenAcquirerFactory(settings, environ=environ).add_downstream_api(API).build()


async def exercise(services: ServiceProvider, emulator: Emulator, *, reload: bool) -> None:
    """Every async entry point, cold (empty cache) and warm, then a credential reload."""
    options = services.settings.downstream_api(API)
    scope = options.scopes[0]
    bound = options.is_mtls_pop
    token_options = options.acquire_token_options
    acquirer = services.token_acquirer
    cache: Any = acquirer.cache

    for _ in ("cold", "warm"):
        result = await acquirer.acquire_token_for_app_async(scope, token_options, bound=bound)
        assert result.access_token
    assert result.token_source is TokenSource.CACHE

    await asyncio.to_thread(cache.clear)
    provider = services.authorization_header_provider
    for _ in ("cold", "warm"):
        header = await provider.create_authorization_header_async(options)
        assert header.header_value.startswith("mtls_pop " if bound else "Bearer ")

    await asyncio.to_thread(cache.clear)
    for _ in ("cold", "warm"):
        response = await services.downstream_api.call_async(API)
        assert response.status == 200, response.text
    assert await services.downstream_api.get_async(API)

    if reload:
        endpoint = "entra.mtls_token" if bound else "entra.token"
        await asyncio.to_thread(emulator.clear_requests)
        await asyncio.to_thread(emulator.inject_faults, endpoint, [invalid_client(700027)])
        again = TokenRequestOptions(force_refresh=True)
        result = await acquirer.acquire_token_for_app_async(scope, again, bound=bound)
        assert result.token_source is TokenSource.IDENTITY_PROVIDER
        statuses = [entry["status"] for entry in emulator.requests(endpoint)]
        assert statuses[0] == 401  # rejected: the credential is reloaded and tried again
        assert statuses[-1] == 200


def run_on_a_debug_loop(services: ServiceProvider, emulator: Emulator, *, reload: bool) -> None:
    async def main() -> None:
        asyncio.get_running_loop().slow_callback_duration = SLOW
        try:
            await exercise(services, emulator, reload=reload)
        finally:
            await services.aclose()

    asyncio.run(main(), debug=True)


@pytest.mark.parametrize(("source", "scheme"), CASES, ids=[f"{s}-{p}" for s, p in CASES])
def test_no_async_entry_point_blocks_the_event_loop(  # noqa: PLR0917 - pytest fixtures
    source: str,
    scheme: str,
    emulator: Emulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="asyncio")
    with loop_guard(monkeypatch) as guard:
        services = build(source, scheme, emulator, tmp_path)  # the guard sees its locks
        run_on_a_debug_loop(services, emulator, reload=source != "managed_identity")
    assert guard.violations == []
    slow = [r.getMessage() for r in caplog.records if r.name == "asyncio"]
    assert [m for m in slow if "took" in m] == []


def test_the_guard_catches_a_blocking_call_on_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check can fail: a sync socket connect, a file read and an identity-web lock."""
    guard = LoopGuard()
    guard.install(monkeypatch)
    from identity_web.cache import InMemoryTokenCache  # noqa: PLC0415 - after the patch

    cache = InMemoryTokenCache()

    async def main() -> None:
        for blocking in (
            lambda: Path(__file__).read_bytes(),
            lambda: __import__("socket").create_connection(("127.0.0.1", 9), timeout=0.1),
            cache.clear,
        ):
            with pytest.raises(AssertionError, match="blocking call on the event loop thread"):
                blocking()
        await asyncio.to_thread(cache.clear)  # off the loop: allowed

    asyncio.run(main())
    monkeypatch.undo()
    assert len(guard.violations) == 3
