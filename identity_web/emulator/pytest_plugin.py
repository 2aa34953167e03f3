"""pytest plugin (entry point `identity_web_emulator`): a running emulator for your tests.

- `identity_web_emulator` (session scope): a started `Emulator`; `.manifest` tells where its
  hosts are, `.state` is its tenant, `.requests()` its log.
- `identity_web_emulator_clean` (function scope): the same emulator with its request log,
  scripted faults and clock shifts cleared before and after the test.

Importing this module is cheap: the emulator is imported when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from identity_web.emulator import Emulator


@pytest.fixture(scope="session")
def identity_web_emulator() -> Iterator[Emulator]:
    """One emulator for the whole test session, stopped at the end."""
    from identity_web.emulator import Emulator  # noqa: PLC0415 - keep plugin import cheap

    emulator = Emulator()
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def identity_web_emulator_clean(identity_web_emulator: Emulator) -> Iterator[Emulator]:
    """The session emulator with an empty request log, no faults and the real clock."""
    identity_web_emulator.reset()
    yield identity_web_emulator
    identity_web_emulator.reset()
