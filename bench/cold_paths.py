"""7. Cold managed-identity paths, step by step: IMDS v2 mTLS PoP and FIC (two legs) with mTLS PoP.

Each run builds new services (no credential, no IMDS certificate, no token cached) and takes
one Authorization header through a driver that times every effect the step yields (key
generation, attestation, each request) and the step code between them (building the CSR,
signing assertions, parsing answers). Medians over the runs. The peers have no IMDS v2 or mTLS
PoP path, so there is no peer row; the figures are ours alone.

The services are built with the background key off (`prepare_managed_identity_key`), so the
key generation shows as a step of its own: what making the key in the background while the
services are built can take off the first call at most (`cold_mi_key` measures what it does).
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from typing import Any
from urllib.parse import urlsplit

from dependency_injector import providers

from bench._params import Params
from bench._report import OURS, BenchResult, Column, Row
from bench._setup import API, BenchEnv
from identity_web import ServiceProvider, TokenAcquirerFactory
from identity_web.protocol._http import HttpRequest
from identity_web.protocol.steps import Attempt, Blocking, Effect, Shared
from identity_web.settings import IdentityWebSettings
from identity_web.transport import SyncDriver

NAME = "cold_paths"
TITLE = "7. cold managed identity, step by step (new services per run, mTLS PoP)"
IMDS = "IMDS v2 mTLS PoP, cold"
FIC = "FIC two legs (managed identity → app), mTLS PoP, cold"
TOTAL = "whole first header"

COLUMNS = (
    Column("median_ms", "median ms", 2),
    Column("p90_ms", "p90 ms", 2),
    Column("count", "per run", 0),
    Column("n", "runs", 0),
)

_clock = time.perf_counter


class TimedDriver(SyncDriver):
    """The sync driver, timing each leaf effect and the step code that ran before it."""

    def __init__(self, send: Any) -> None:
        super().__init__(send)
        self.spent: dict[str, list[float]] = defaultdict(list)
        self._mark = _clock()

    def _perform(self, effect: Effect) -> Any:
        if isinstance(effect, Shared) or (isinstance(effect, HttpRequest) and effect.retry):
            return super()._perform(effect)  # its leaves are timed when they run
        label = _label(effect)
        began = _clock()
        if label is not None:
            self.spent[f"  step code before {label}"].append(began - self._mark)
        try:
            return super()._perform(effect)
        finally:
            self._mark = _clock()
            if label is not None:
                self.spent[label].append(self._mark - began)


def _label(effect: Effect) -> str | None:
    request = effect.request if isinstance(effect, Attempt) else effect
    if isinstance(request, HttpRequest):
        path = urlsplit(request.url).path.rstrip("/")
        return f"{request.method} …/{path.rsplit('/', 1)[-1]}"
    if isinstance(effect, Blocking):
        return type(effect).__name__
    return None


def run(env: BenchEnv, params: Params) -> BenchResult:
    result = BenchResult(
        NAME,
        TITLE,
        COLUMNS,
        ratio_metric="median_ms",
        ratio_meaning="ours only (no peer has these paths)",
    )
    for case, config in ((IMDS, managed_identity_config(env)), (FIC, _fic(env))):
        spent, counts = _measure(env, config, params.cold_path_runs)
        for label, seconds in spent.items():
            metrics = millisecond_metrics(seconds, statistics.median(counts.get(label, [1])))
            result.add(Row(case, label, OURS, metrics))
    result.notes.append(
        "GenerateKey: the managed identity key (RSA 2048), made in the call here (background key "
        "off): what making it in the background at build time can save on the first call at "
        "most (7b measures it); step code rows: our own step code between two effects"
    )
    return result


def _measure(
    env: BenchEnv, config: dict[str, Any], runs: int
) -> tuple[dict[str, list[float]], dict[str, list[int]]]:
    """Per label: seconds per run (summed over its occurrences), and occurrences per run."""
    spent: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, list[int]] = defaultdict(list)
    for _ in range(runs):
        with build_services(env, config, background_key=False) as services:
            provider = services.authorization_header_provider
            options = services.downstream_api.options(API)
            driver = TimedDriver(services.container.transport().attempt)
            began = _clock()
            header = driver.run(provider.header_step(options))
            spent[TOTAL].append(_clock() - began)
            if header.binding_certificate is None:
                raise RuntimeError("the cold path did not give a bound token")
            for label, seconds in driver.spent.items():
                spent[label].append(sum(seconds))
                counts[label].append(len(seconds))
    return spent, counts


def millisecond_metrics(seconds: list[float], count: float = 1) -> dict[str, float | int]:
    """Median, min and p90 in ms of `seconds` (one per run); `count`: occurrences per run."""
    ordered = sorted(seconds)
    return {
        "median_ms": statistics.median(ordered) * 1000,
        "min_ms": ordered[0] * 1000,
        "p90_ms": ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] * 1000,
        "count": count,
        "n": len(ordered),
    }


def build_services(
    env: BenchEnv, config: dict[str, Any], *, background_key: bool
) -> ServiceProvider:
    """`env.build(config)`, with the managed identity's background key on or off."""
    settings = IdentityWebSettings.from_mapping(config)
    factory = TokenAcquirerFactory(settings, environ=env.manifest.env())
    if not background_key:
        factory.container.prepare_managed_identity_key.override(providers.Object(False))
    factory.add_downstream_api(API)
    return factory.build()


def managed_identity_config(env: BenchEnv) -> dict[str, Any]:
    manifest = env.manifest
    identity = next(
        (
            {"UserAssignedClientId": mi.client_id}
            for mi in manifest.managed_identities
            if mi.kind == "UserAssigned"
        ),
        {},
    )
    return {
        "AzureAd": {},
        API: {
            "BaseUrl": env.resource.base_url,
            "RelativePath": "whoami",
            "Scopes": [manifest.resource.scope],
            "ProtocolScheme": "MTLS_POP",
            "AcquireTokenOptions": {"ManagedIdentity": identity},
        },
    }


def _fic(env: BenchEnv) -> dict[str, Any]:
    manifest = env.manifest
    app = next(app for app in manifest.apps if app.federated_managed_identities)
    config = env.certificate_config()
    config["AzureAd"]["ClientId"] = app.client_id
    config["AzureAd"]["ClientCredentials"] = [
        {
            "SourceType": "SignedAssertionFromManagedIdentity",
            "ManagedIdentityClientId": app.federated_managed_identities[0],
        }
    ]
    return config
