"""Refresh without stalls, against the emulator with an injected client clock: past `refresh_on`
(half the lifetime of a long-lived managed identity token) every caller, the one that noticed
included, keeps the valid token while one refresh runs in the background — one per fleet on
Redis; a failed refresh warns and keeps the valid token, with backoff; an expired one is never
served."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from dependency_injector import providers
from fleet_helpers import API
from redis_servers import RedisServer

from identity_web import AcquireTokenResult, ServiceProvider, TokenAcquirerFactory, TokenSource
from identity_web.emulator import Emulator
from identity_web.settings import IdentityWebSettings

#: Past half of the emulator's managed identity token lifetime (86,399 s), far from expiry.
PAST_REFRESH_ON = 43_300.0


class Clock:
    """Real time plus an offset, moved together with the emulator's clock."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
        self._emulator.state.clock.shift(seconds)


def managed_identity_replica(
    emulator: Emulator, clock: Clock, redis_url: str | None = None
) -> ServiceProvider:
    manifest = emulator.manifest
    config: dict[str, Any] = {
        "AzureAd": {},
        API: {
            "BaseUrl": manifest.resource.base_url,
            "Scopes": [manifest.resource.scope],
            "RequestAppToken": True,
            "AcquireTokenOptions": {"ManagedIdentity": {}},
        },
    }
    if redis_url is not None:
        config["TokenCache"] = {"Type": "Redis", "ConnectionString": redis_url, "KeyPrefix": "mi"}
    factory = TokenAcquirerFactory(IdentityWebSettings.from_mapping(config), environ=manifest.env())
    factory.container.clock.override(providers.Object(clock))
    return factory.add_downstream_api(API).build()


def acquirer_call(services: ServiceProvider) -> Callable[[], AcquireTokenResult]:
    options = services.settings.downstream_api(API)
    scope = options.scopes[0]
    return lambda: services.token_acquirer.acquire_token_for_app(
        scope, options.acquire_token_options
    )


def imds_tokens(emulator: Emulator) -> int:
    return len(emulator.requests("imds.token"))


def eventually(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the background refresh did not happen"
        time.sleep(0.01)


@dataclass
class Replica:
    services: ServiceProvider
    clock: Clock
    acquire: Callable[[], AcquireTokenResult]


@pytest.fixture
def replica(identity_web_emulator_clean: Emulator) -> Iterator[Replica]:
    """A managed identity replica on the memory cache, its clock, and its acquire call."""
    clock = Clock(identity_web_emulator_clean)
    with managed_identity_replica(identity_web_emulator_clean, clock) as services:
        yield Replica(services, clock, acquirer_call(services))


def test_past_refresh_on_every_caller_keeps_the_valid_token_while_one_refresh_runs(
    identity_web_emulator_clean: Emulator, replica: Replica
) -> None:
    emulator, clock, acquire = identity_web_emulator_clean, replica.clock, replica.acquire
    first = acquire()
    assert first.refresh_on is not None
    assert first.refresh_on < first.expires_on
    emulator.inject_faults("imds.token", [{"status": None, "delay_ms": 1500}])
    clock.advance(PAST_REFRESH_ON)
    started = time.monotonic()
    during = [acquire() for _ in range(50)]  # the first of them notices
    options = replica.services.settings.downstream_api(API)
    during.append(
        asyncio.run(
            replica.services.token_acquirer.acquire_token_for_app_async(
                options.scopes[0], options.acquire_token_options
            )
        )
    )
    assert time.monotonic() - started < 1.0  # nobody waited for the 1.5 s refresh
    assert {r.access_token for r in during} == {first.access_token}
    assert {r.token_source for r in during} == {TokenSource.CACHE}
    eventually(lambda: acquire().access_token != first.access_token)
    assert imds_tokens(emulator) == 2
    assert acquire().expires_on > first.expires_on


def test_a_failed_refresh_warns_keeps_the_valid_token_with_backoff_and_never_serves_it_expired(
    identity_web_emulator_clean: Emulator, replica: Replica, caplog: pytest.LogCaptureFixture
) -> None:
    emulator, clock, acquire = identity_web_emulator_clean, replica.clock, replica.acquire
    first = acquire()
    refused = {"status": 400, "body": '{"error": "invalid_request"}'}
    emulator.inject_faults("imds.token", [refused] * 3)
    clock.advance(PAST_REFRESH_ON)
    assert acquire().access_token == first.access_token
    eventually(lambda: "refreshing the Bearer token" in caplog.text)
    warnings = [r for r in caplog.records if "refreshing the Bearer token" in r.message]
    assert [r.levelname for r in warnings] == ["WARNING"]
    attempts = imds_tokens(emulator)
    clock.advance(5)  # within the backoff: served, no new attempt
    assert acquire().access_token == first.access_token
    time.sleep(0.2)
    assert imds_tokens(emulator) == attempts
    emulator.clear_faults()
    clock.advance(first.expires_on - 60 - clock())  # past the expiry margin: never served
    fresh = acquire()
    assert fresh.access_token != first.access_token
    assert fresh.token_source is TokenSource.IDENTITY_PROVIDER
    assert first.access_token not in caplog.text


def test_on_redis_one_refresh_runs_for_the_whole_fleet(
    identity_web_emulator_clean: Emulator, redis_server: RedisServer
) -> None:
    emulator = identity_web_emulator_clean
    clock = Clock(emulator)
    replicas = [managed_identity_replica(emulator, clock, redis_server.url) for _ in range(3)]
    try:
        calls = [acquirer_call(services) for services in replicas]
        first = calls[0]()
        assert {call().access_token for call in calls} == {first.access_token}
        assert imds_tokens(emulator) == 1  # the others were served from Redis
        emulator.inject_faults("imds.token", [{"status": None, "delay_ms": 300}])
        clock.advance(PAST_REFRESH_ON)
        for _ in range(20):
            for call in calls:
                assert call().expires_on >= first.expires_on
        eventually(lambda: all(call().expires_on > first.expires_on for call in calls))
        assert imds_tokens(emulator) == 2
    finally:
        for services in replicas:
            services.close()
