"""7b. The first managed-identity (IMDS v2, mTLS PoP) header with and without the key made in the
background while the services are built.

`TokenAcquirerFactory.build()` starts making the first IMDS v2 key in a background thread when
the configuration asks a managed identity for bound tokens (`prepare_managed_identity_key`).
Each run builds new services twice, once with that on and once with it off (the container
provider overridden), in alternating order, and times the first Authorization header:

* right after `build()` returns (the key has had no head start: only what the call does before
  it needs the key overlaps with it);
* after an idle pause (`PAUSE_S`, an application finishing its start-up), the call alone timed,
  sync and asyncio.

Per-run ratios (with / without, the same run) give the spread. No peer has this path.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench._params import Params
from bench._report import OURS, PEER, BenchResult, Column, Row
from bench._setup import API, BenchEnv
from bench.cold_paths import COLUMNS as STEP_COLUMNS
from bench.cold_paths import build_services, managed_identity_config, millisecond_metrics
from identity_web import AuthorizationHeaderInformation

NAME = "cold_mi_key"
TITLE = "7b. first IMDS v2 mTLS PoP header: key made in the background at build vs in the call"
PAUSE_S = 0.3
WITH = "identity-web, key made in the background at build"
WITHOUT = "identity-web, key made in the call (background off)"
CASES = (
    ("first call right after build(), sync", 0.0, False),
    (f"first call {PAUSE_S * 1000:.0f} ms after build(), sync", PAUSE_S, False),
    (f"first call {PAUSE_S * 1000:.0f} ms after build(), asyncio", PAUSE_S, True),
)

COLUMNS = (*STEP_COLUMNS[:2], Column("min_ms", "min ms", 2), STEP_COLUMNS[3])

_clock = time.perf_counter


def run(env: BenchEnv, params: Params) -> BenchResult:
    meaning = "<1 means the first header comes sooner with the background key"
    result = BenchResult(NAME, TITLE, COLUMNS, ratio_metric="median_ms", ratio_meaning=meaning)
    config = managed_identity_config(env)
    for case, pause, asyncio_call in CASES:
        times: dict[bool, list[float]] = {True: [], False: []}
        for index in range(params.cold_path_runs):
            order = (True, False) if index % 2 == 0 else (False, True)
            for background in order:
                spent = _first_header(env, config, background, pause, asyncio_call)
                times[background].append(spent)
        result.add(Row(case, WITH, OURS, millisecond_metrics(times[True])))
        peer = result.add(Row(case, WITHOUT, PEER, millisecond_metrics(times[False])))
        peer.round_ratios = [w / o for w, o in zip(times[True], times[False], strict=True) if o]
    result.compute_ratios()
    result.notes.append(
        "each run builds new services (no key, certificate or token yet) with the background "
        "key on and off, in alternating order; the call alone is timed (after the pause when "
        "there is one); the per-round column is with/without of each run"
    )
    return result


def _first_header(
    env: BenchEnv, config: dict[str, Any], background: bool, pause: float, asyncio_call: bool
) -> float:
    """Seconds the first Authorization header took."""
    with build_services(env, config, background_key=background) as services:
        provider = services.authorization_header_provider
        options = services.downstream_api.options(API)
        if pause:
            time.sleep(pause)

        async def timed_async() -> tuple[float, AuthorizationHeaderInformation]:
            began = _clock()
            header = await provider.create_authorization_header_async(options)
            return _clock() - began, header

        if asyncio_call:
            spent, header = asyncio.run(timed_async())
        else:
            began = _clock()
            header = provider.create_authorization_header(options)
            spent = _clock() - began
        if header.binding_certificate is None:
            raise RuntimeError("the first managed identity header was not bound")
        return spent
