"""The folders show the layers: a downstream call stays within a few modules."""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any

from e2e_helpers import API, build, certificate_config

from identity_web.emulator import Emulator

MAX_FILES = 15


def files_crossed(call: Callable[[], object]) -> set[str]:
    """The identity-web source files (not the emulator's) whose code `call` runs here."""
    files: set[str] = set()

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        name = frame.f_code.co_filename
        if "/identity_web/" in name and "/identity_web/emulator/" not in name:
            files.add(name.split("/identity_web/", 1)[1])

    sys.setprofile(profile)
    try:
        call()
    finally:
        sys.setprofile(None)
    return files


def test_a_mtls_pop_call_with_a_cached_token_crosses_at_most_15_files(
    emulator: Emulator,
) -> None:
    manifest = emulator.manifest
    config = certificate_config(manifest, ProtocolScheme="MTLS_POP")
    with build(config, manifest) as services:
        api = services.downstream_api
        api.call(API)  # acquires the token
        api.call(API)  # first hit: builds the entry's header once
        crossed = files_crossed(lambda: api.call(API))
    assert any(name.startswith("downstream/") for name in crossed)  # the probe does see us
    assert len(crossed) <= MAX_FILES, sorted(crossed)
