"""Bounded shutdown (issue 18, point 5): closing the services while calls are in flight ends
within a bound, closes every pooled connection and descriptor, and leaves no thread running."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable

import pytest
from e2e_helpers import API, build, certificate_config

from identity_web import IdentityWebError
from identity_web.emulator import Emulator, EmulatorManifest

CALLERS = 8
SLOW_MS = 3000  # each call in flight waits this long for its answer
BOUND_SECONDS = 2.0  # close() returns sooner: it does not wait for the answers in flight


def _descriptors() -> int:
    return len(os.listdir("/proc/self/fd"))


def _settled(condition: Callable[[], bool], seconds: float = 8.0) -> bool:
    """Whether `condition` holds within `seconds` (the emulator's side closes asynchronously)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _slow_resource(emulator: Emulator) -> None:
    emulator.inject_faults("resource", [{"status": None, "delay_ms": SLOW_MS}] * CALLERS)


def _baseline(emulator: Emulator) -> tuple[int, set[threading.Thread]]:
    assert _settled(lambda: sum(emulator.open_connections().values()) == 0)
    return _descriptors(), set(threading.enumerate())


def _nothing_left(emulator: Emulator, descriptors: int, threads: set[threading.Thread]) -> None:
    assert _settled(lambda: sum(emulator.open_connections().values()) == 0), (
        emulator.open_connections()
    )
    assert _settled(lambda: _descriptors() <= descriptors), (_descriptors(), descriptors)
    assert _settled(lambda: set(threading.enumerate()) <= threads), (
        set(threading.enumerate()) - threads
    )


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_close_with_calls_in_flight_is_bounded_and_releases_everything(
    manifest: EmulatorManifest, emulator: Emulator, scheme: str
) -> None:
    descriptors, threads = _baseline(emulator)
    services = build(certificate_config(manifest, ProtocolScheme=scheme), manifest)
    assert services.downstream_api.call(API).status == 200  # warm: token cached, pool open
    _slow_resource(emulator)
    outcomes: list[object] = []

    def one_call() -> None:
        try:
            outcomes.append(services.downstream_api.call(API).status)
        except IdentityWebError as error:  # a typed error is a fine end for a cut-off call
            outcomes.append(type(error).__name__)

    callers = [threading.Thread(target=one_call) for _ in range(CALLERS)]
    for caller in callers:
        caller.start()
    assert _settled(lambda: len(emulator.requests("resource")) >= 1 + CALLERS)
    started = time.monotonic()
    with services:
        pass  # __exit__ closes
    closing = time.monotonic() - started
    deadline = started + SLOW_MS / 1000 + BOUND_SECONDS  # calls in flight end with their answer
    for caller in callers:
        caller.join(max(0.0, deadline - time.monotonic()))
    assert not any(caller.is_alive() for caller in callers)
    assert closing < BOUND_SECONDS
    assert len(outcomes) == CALLERS
    _nothing_left(emulator, descriptors, threads)


@pytest.mark.parametrize("scheme", ["Bearer", "MTLS_POP"])
def test_aclose_with_calls_in_flight_is_bounded_and_releases_everything(
    manifest: EmulatorManifest, emulator: Emulator, scheme: str
) -> None:
    descriptors, threads = _baseline(emulator)

    async def scenario() -> float:
        services = build(certificate_config(manifest, ProtocolScheme=scheme), manifest)
        assert (await services.downstream_api.call_async(API)).status == 200
        _slow_resource(emulator)
        calls = [
            asyncio.create_task(services.downstream_api.call_async(API)) for _ in range(CALLERS)
        ]
        while len(emulator.requests("resource")) < 1 + CALLERS:
            await asyncio.sleep(0.02)
        started = time.monotonic()
        async with services:
            pass  # __aexit__ closes
        closing = time.monotonic() - started
        outcomes = await asyncio.wait_for(
            asyncio.gather(*calls, return_exceptions=True), SLOW_MS / 1000 + BOUND_SECONDS
        )
        assert all(
            not isinstance(o, Exception) or isinstance(o, IdentityWebError) for o in outcomes
        )
        return closing

    closing = asyncio.run(scenario())  # its own loop: its default executor ends with it
    assert closing < BOUND_SECONDS
    _nothing_left(emulator, descriptors, threads)


def test_a_call_after_close_is_refused_with_a_typed_error_and_opens_nothing(
    manifest: EmulatorManifest, emulator: Emulator
) -> None:
    descriptors, threads = _baseline(emulator)
    services = build(certificate_config(manifest), manifest)
    assert services.downstream_api.call(API).status == 200
    services.close()
    with pytest.raises(IdentityWebError, match="closed"):
        services.downstream_api.call(API)
    _nothing_left(emulator, descriptors, threads)
