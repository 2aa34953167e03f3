"""Many concurrent callers of one cold cache key share a single token request."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_helpers import API, build, certificate_config, token_requests

from identity_web.emulator import Emulator, EmulatorManifest

CALLERS = 16


def _slow_token_endpoint(emulator: Emulator, endpoint: str) -> None:
    """The next token request waits 300 ms before being served, so every caller piles up."""
    emulator.inject_faults(endpoint, [{"status": None, "delay_ms": 300}])


@pytest.mark.parametrize(
    ("scheme", "endpoint"), [("Bearer", "entra.token"), ("MTLS_POP", "entra.mtls_token")]
)
def test_many_threads_one_token_request(
    manifest: EmulatorManifest, emulator: Emulator, scheme: str, endpoint: str
) -> None:
    _slow_token_endpoint(emulator, endpoint)
    barrier = threading.Barrier(CALLERS)
    with build(certificate_config(manifest, ProtocolScheme=scheme), manifest) as services:

        def one_call() -> int:
            barrier.wait()
            return services.downstream_api.call(API).status

        with ThreadPoolExecutor(CALLERS) as pool:
            statuses = list(pool.map(lambda _: one_call(), range(CALLERS)))
    assert statuses == [200] * CALLERS
    assert [e["endpoint"] for e in token_requests(emulator.requests())] == [endpoint]
    assert len(emulator.requests("resource")) == CALLERS


@pytest.mark.parametrize(
    ("scheme", "endpoint"), [("Bearer", "entra.token"), ("MTLS_POP", "entra.mtls_token")]
)
async def test_many_tasks_one_token_request(
    manifest: EmulatorManifest, emulator: Emulator, scheme: str, endpoint: str
) -> None:
    _slow_token_endpoint(emulator, endpoint)
    async with build(certificate_config(manifest, ProtocolScheme=scheme), manifest) as services:
        calls = [services.downstream_api.call_async(API) for _ in range(CALLERS)]
        responses = await asyncio.gather(*calls)
    assert [r.status for r in responses] == [200] * CALLERS
    assert [e["endpoint"] for e in token_requests(emulator.requests())] == [endpoint]
    assert len({r.json()["cnf_x5t_s256"] for r in responses}) == 1
