"""OpenIdSigningKeys against the emulator's login host over real TLS: fetched once, cached,
refreshed on an unknown kid at most once per interval, bounded in time, falling back to the
cached keys when the authority does not answer."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
from resource_helpers import mint

from identity_web import ConfigurationError
from identity_web.emulator import Emulator
from identity_web.emulator._state import SigningKey
from identity_web.resource import (
    OpenIdSigningKeys,
    ProtectedWebApi,
    SigningKeysUnavailableError,
    UnknownSigningKeyError,
)
from identity_web.settings import IdentityWebSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _metadata_url(emulator: Emulator) -> str:
    manifest = emulator.manifest
    return f"{manifest.instance}{manifest.tenant_id}/v2.0/.well-known/openid-configuration"


def _keys(emulator: Emulator, clock: FakeClock, **options: float) -> OpenIdSigningKeys:
    return OpenIdSigningKeys(
        _metadata_url(emulator), ca_bundle=emulator.manifest.ca_bundle, clock=clock, **options
    )


def _fetches(emulator: Emulator) -> int:
    return len(emulator.requests("entra.keys"))


def test_keys_are_fetched_once_and_then_served_from_the_cache(emulator: Emulator) -> None:
    keys = _keys(emulator, FakeClock())
    kid = emulator.state.signing.kid
    first = keys.key(kid)
    assert keys.key(kid) is first
    assert keys.cached(kid) is first
    assert len(emulator.requests("entra.openid_configuration")) == 1
    assert _fetches(emulator) == 1


def test_an_unknown_kid_refreshes_at_most_once_per_interval(emulator: Emulator) -> None:
    clock = FakeClock()
    keys = _keys(emulator, clock, refresh_interval=300)
    keys.key(emulator.state.signing.kid)
    clock.now += 301
    for _ in range(5):
        with pytest.raises(UnknownSigningKeyError):
            keys.key("forged-kid")
    assert _fetches(emulator) == 2  # the first fetch, then one refresh for five unknown kids
    clock.now += 301
    with pytest.raises(UnknownSigningKeyError):
        keys.key("forged-kid")
    assert _fetches(emulator) == 3


def test_a_rotated_key_is_found_by_the_refresh(emulator: Emulator) -> None:
    clock = FakeClock()
    keys = _keys(emulator, clock)
    keys.key(emulator.state.signing.kid)
    original = emulator.state.signing
    emulator.state.signing = SigningKey.create()
    try:
        clock.now += 301
        assert keys.key(emulator.state.signing.kid) is not None
    finally:
        emulator.state.signing = original


def test_a_slow_authority_is_cut_off_and_the_cached_keys_stay(emulator: Emulator) -> None:
    clock = FakeClock()
    keys = _keys(emulator, clock, timeout=0.5, automatic_refresh=3600)
    kid = emulator.state.signing.kid
    cached = keys.key(kid)
    emulator.inject_faults(
        "entra.openid_configuration", [{"status": 200, "body": "{}", "delay_ms": 3000}]
    )
    clock.now += 3601  # the keys are due for their automatic refresh
    started = time.monotonic()
    assert keys.key(kid) is cached
    assert time.monotonic() - started < 2.0
    assert keys.fetch_count == 2


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A TCP listener that accepts and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}/t/v2.0/.well-known/openid-configuration"
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_no_keys_at_all_is_503_within_the_deadline(silent_server: str) -> None:
    keys = OpenIdSigningKeys(silent_server, timeout=0.5)
    started = time.monotonic()
    with pytest.raises(SigningKeysUnavailableError):
        keys.key("any")
    assert time.monotonic() - started < 2.0
    again = time.monotonic()
    with pytest.raises(SigningKeysUnavailableError):
        keys.key("any")  # within the refresh interval: no second attempt, no wait
    assert time.monotonic() - again < 0.1


def test_protected_web_api_from_settings_validates_emulator_tokens(emulator: Emulator) -> None:
    manifest = emulator.manifest
    audience = manifest.resource.scope.removesuffix("/.default")
    settings = IdentityWebSettings.from_mapping(
        {
            "AzureAd": {
                "Instance": manifest.instance,
                "TenantId": manifest.tenant_id,
                "Audience": audience,
                "AllowWebApiToBeAuthorizedByACL": True,
            }
        }
    )
    api = ProtectedWebApi.from_settings(settings, ca_bundle=manifest.ca_bundle)
    app = emulator.demo_app
    token = emulator.state.mint_access_token(
        client_id=app.client_id, object_id=app.object_id, audience=audience, appidacr="2"
    )
    assert api.authenticate(f"Bearer {token}", None).app_id == app.client_id
    with pytest.raises(UnknownSigningKeyError):
        api.authenticate(f"Bearer {mint({'ver': '2.0'})}", None)


def test_signing_keys_are_never_fetched_over_plain_http() -> None:
    with pytest.raises(ConfigurationError, match="https"):
        OpenIdSigningKeys("http://127.0.0.1:1/t/v2.0/.well-known/openid-configuration")
