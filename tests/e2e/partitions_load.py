"""Partitions under load: many acquisitions from threads and asyncio tasks at once, across
two tenants (two emulators) x two applications with their own certificates x Bearer/bound x
three scopes, with forced expiry (an injected clock that jumps past every token's lifetime
between phases) and a credential reload in the middle of a phase.

What is checked (`Report.problems()` lists every breach):

* every returned token belongs to its partition: `tid`, `appid`/`azp`, `aud` (the scope) and
  `cnf.x5t#S256` (the application's certificate for a bound token, absent for Bearer);
* every call to the resource succeeded, and each bound one presented the certificate its
  token names (the resource's request log);
* token requests = distinct keys x phases (one request per key per expiry, never more).

`./run test` runs a small count (tests/e2e/test_partitions_load.py); `./run load [N]` runs N
acquisitions (default 10^6) and prints the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from e2e_helpers import API, certificate_config

from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.emulator import Emulator
from identity_web.emulator._config import EmulatorConfig
from identity_web.emulator._demo_tenant import build_default_state, create_app
from identity_web.protocol.rfc7523 import unverified_claims
from identity_web.settings import IdentityWebSettings

THREADS = 64
TASKS = 256
SCOPES = (
    "{api}/.default",
    "https://vault.azure.net/.default",
    "https://graph.microsoft.com/.default",
)
TOKEN_LIFETIME = 3600
TOKEN_ENDPOINTS = ("entra.token", "entra.mtls_token")


class FakeClock:
    """The clients' clock: real time plus an offset the harness moves forward."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass(frozen=True)
class Partition:
    """One application (tenant + client + certificate), built into its own services."""

    tenant_id: str
    client_id: str
    thumbprint: str
    api_scope: str
    services: ServiceProvider


@dataclass(frozen=True)
class Key:
    partition: Partition
    bound: bool
    scope: str

    def problems(self, token: str, claims: dict[str, Any]) -> list[str]:
        cnf = claims.get("cnf")
        expected = {
            "tid": self.partition.tenant_id,
            "appid": self.partition.client_id,
            "azp": self.partition.client_id,
            "aud": self.scope.removesuffix("/.default"),
            "cnf": {"x5t#S256": self.partition.thumbprint} if self.bound else None,
        }
        found = {**{name: claims.get(name) for name in expected}, "cnf": cnf}
        return [f"{self}: {n} is {found[n]!r}" for n in expected if found[n] != expected[n]]

    def __str__(self) -> str:
        kind = "bound" if self.bound else "Bearer"
        return f"{self.partition.tenant_id[:8]}/{self.partition.client_id[:8]}/{kind}/{self.scope}"


@dataclass
class Report:
    acquisitions: int = 0
    resource_calls: int = 0
    token_requests: int = 0
    expected_token_requests: int = 0
    keys: int = 0
    phases: int = 0
    seconds: float = 0.0
    mistakes: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        found = list(self.mistakes[:20])
        if self.token_requests != self.expected_token_requests:
            found.append(
                f"{self.token_requests} token requests, expected {self.keys} keys x "
                f"{self.phases} phases = {self.expected_token_requests}"
            )
        return found

    def summary(self) -> str:
        rate = self.acquisitions / self.seconds if self.seconds else 0.0
        return (
            f"{self.acquisitions} acquisitions ({THREADS} threads + {TASKS} tasks), "
            f"{self.resource_calls} resource calls, {self.keys} keys x {self.phases} phases: "
            f"{self.token_requests} token requests (expected {self.expected_token_requests}), "
            f"{len(self.mistakes)} partition mistakes, {self.seconds:.1f} s ({rate:,.0f}/s)"
        )


class _Checker:
    """Checks each returned token once (tokens repeat: the claims are read once per token)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, Key], None] = {}
        self._returned: list[None] = []  # one item per checked token (append is atomic)
        self.mistakes: list[str] = []

    @property
    def returned(self) -> int:
        return len(self._returned)

    def check(self, key: Key, token: str) -> None:
        self._returned.append(None)
        if (token, key) in self._seen:
            return
        problems = key.problems(token, unverified_claims(token))
        with self._lock:
            self._seen[(token, key)] = None
            self.mistakes.extend(problems)


@contextmanager
def _tenant(stack: ExitStack) -> Iterator[Emulator]:
    """An emulator (its own tenant) with two applications, each with its own certificate."""
    state = build_default_state(
        EmulatorConfig(token_lifetime=TOKEN_LIFETIME, assertion_clock_skew=10 * 24 * 3600)
    )
    create_app(state, "identity-web second app")
    emulator = stack.enter_context(Emulator(state=state))
    emulator.start()
    yield emulator


def _partitions(emulator: Emulator, clock: FakeClock) -> list[Partition]:
    manifest = emulator.manifest
    found = []
    for app in manifest.apps:
        config = certificate_config(manifest, app=app)
        api = config.pop(API)  # /whoami, the demo API's scope, an app token
        config |= {name: {**api, "ProtocolScheme": name} for name in ("Bearer", "MTLS_POP")}
        factory = TokenAcquirerFactory(
            IdentityWebSettings.from_mapping(config), environ=manifest.env()
        )
        factory.container.clock.override(clock)
        factory.add_downstream_api("Bearer").add_downstream_api("MTLS_POP")
        thumbprint = emulator.state.app_credentials[app.client_id].x5t_s256
        api_scope = manifest.resource.scope.removesuffix("/.default")
        found.append(
            Partition(manifest.tenant_id, app.client_id, thumbprint, api_scope, factory.build())
        )
    return found


def _keys(partitions: list[Partition]) -> list[Key]:
    return [
        Key(p, bound, scope.format(api=p.api_scope))
        for p in partitions
        for bound in (False, True)
        for scope in SCOPES
    ]


def _reload_credentials(partitions: list[Partition]) -> None:
    """A certificate rotation as the services see it: every selection is forgotten and the
    certificate loaded again on next use (same file: same keys, no new token request)."""
    for partition in partitions:
        partition.services.container.credentials().reset()


def _resource_call(key: Key, checker: _Checker) -> None:
    """Through DownstreamApi: the resource answers with the claims it accepted."""
    api = "MTLS_POP" if key.bound else "Bearer"
    response = key.partition.services.downstream_api.call(api)
    _check_resource(key, response.status, response.json(), checker)


async def _resource_call_async(key: Key, checker: _Checker) -> None:
    api = "MTLS_POP" if key.bound else "Bearer"
    response = await key.partition.services.downstream_api.call_async(api)
    _check_resource(key, response.status, response.json(), checker)


def _check_resource(key: Key, status: int, body: dict[str, Any], checker: _Checker) -> None:
    if status != 200:
        checker.mistakes.append(f"{key}: the resource answered {status}")
        return
    expected = key.partition.thumbprint if key.bound else None
    if body.get("cnf_x5t_s256") != expected or body.get("appid") != key.partition.client_id:
        checker.mistakes.append(f"{key}: the resource saw {body.get('appid')!r}")


def _schedule(worker: int, count: int, keys: list[Key]) -> Iterator[Key]:
    """The keys worker `worker` acquires, `count` of them, deterministically interleaved."""
    for i in range(count):
        yield keys[(worker * 7 + i * 5) % len(keys)]


def _thread_worker(
    worker: int, count: int, keys: list[Key], checker: _Checker, midway: Callable[[], None]
) -> None:
    for i, key in enumerate(_schedule(worker, count, keys)):
        if worker == 0 and i == count // 2:
            midway()
        result = key.partition.services.token_acquirer.acquire_token_for_app(
            key.scope, bound=key.bound
        )
        checker.check(key, result.access_token)


async def _task_worker(worker: int, count: int, keys: list[Key], checker: _Checker) -> None:
    for i, key in enumerate(_schedule(worker, count, keys)):
        result = await key.partition.services.token_acquirer.acquire_token_for_app_async(
            key.scope, bound=key.bound
        )
        checker.check(key, result.access_token)
        if i % 64 == 0:
            await asyncio.sleep(0)  # the loop's other tasks get a turn between cache hits


async def _tasks(share: list[int], keys: list[Key], checker: _Checker) -> None:
    async with asyncio.TaskGroup() as group:
        for worker, count in enumerate(share):
            group.create_task(_task_worker(THREADS + worker, count, keys, checker))
    api_keys = [k for k in keys if k.scope.startswith("api://")]
    await asyncio.gather(*(_resource_call_async(k, checker) for k in api_keys))


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def _phase(
    loop: asyncio.AbstractEventLoop,
    per_phase: int,
    keys: list[Key],
    checker: _Checker,
    midway: Callable[[], None],
) -> None:
    """One expiry period: THREADS threads and TASKS tasks (on one event loop thread) at once."""
    thread_total = per_phase // 2
    threads = [
        threading.Thread(target=_thread_worker, args=(w, n, keys, checker, midway))
        for w, n in enumerate(_split(thread_total, THREADS))
    ]
    tasks = _tasks(_split(per_phase - thread_total, TASKS), keys, checker)
    loop_thread = threading.Thread(target=loop.run_until_complete, args=(tasks,))
    for thread in [*threads, loop_thread]:
        thread.start()
    for key in keys:
        if key.scope.startswith("api://"):
            _resource_call(key, checker)
    for thread in [*threads, loop_thread]:
        thread.join()


def run_load(acquisitions: int, phases: int = 3) -> Report:
    """`acquisitions` acquisitions in `phases` expiry periods; the report of what was seen."""
    clock = FakeClock()
    checker = _Checker()
    report = Report(phases=phases)
    with ExitStack() as stack:
        emulators = [stack.enter_context(_tenant(stack)) for _ in range(2)]
        partitions = [p for e in emulators for p in _partitions(e, clock)]
        for partition in partitions:
            stack.callback(partition.services.close)
        # One event loop for every phase, closed after the services' async clients (aclose on
        # it), so no connection is left to a closed loop.
        loop = asyncio.new_event_loop()
        stack.callback(loop.close)
        stack.callback(loop.run_until_complete, _aclose(partitions))
        keys = _keys(partitions)
        started = time.perf_counter()
        for phase in range(phases):
            midway = (lambda: _reload_credentials(partitions)) if phase == phases // 2 else _noop
            _phase(loop, _split(acquisitions, phases)[phase], keys, checker, midway)
            clock.offset += TOKEN_LIFETIME  # every token of this phase is now expired
        report.seconds = time.perf_counter() - started
        report.acquisitions = checker.returned
        report.keys = len(keys)
        report.expected_token_requests = len(keys) * phases
        report.token_requests = sum(
            len([e for e in emulator.requests() if e["endpoint"] in TOKEN_ENDPOINTS])
            for emulator in emulators
        )
        resource = [e for emulator in emulators for e in emulator.requests("resource")]
        report.resource_calls = len(resource)
        for entry in resource:
            if entry["status"] != 200:
                checker.mistakes.append(f"a resource call answered {entry['status']}")
        report.mistakes = checker.mistakes
    return report


async def _aclose(partitions: list[Partition]) -> None:
    for partition in partitions:
        await partition.services.aclose()


def _noop() -> None:
    pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("acquisitions", nargs="?", type=int, default=1_000_000)
    parser.add_argument("--phases", type=int, default=3)
    arguments = parser.parse_args()
    report = run_load(arguments.acquisitions, arguments.phases)
    print(report.summary())
    for problem in report.problems():
        print("PROBLEM:", problem)
    return 1 if report.problems() else 0


if __name__ == "__main__":
    raise SystemExit(main())
