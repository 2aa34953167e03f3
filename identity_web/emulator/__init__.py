"""A local emulator of Entra ID (login and mtlsauth hosts), IMDS and an mTLS-bound resource API.

`Emulator(config).start()` (or `with Emulator() as emulator:`) runs every host on ephemeral
loopback ports over real TLS; `emulator.manifest` tells clients where they are. See
docs/emulator.md.

The names below are imported on first use, so that loading the pytest plugin
(`identity_web.emulator.pytest_plugin`) does not import the emulator.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from identity_web._lazy import lazy_attributes as _lazy_attributes

if TYPE_CHECKING:
    from identity_web.emulator._config import EmulatorConfig
    from identity_web.emulator._emulator import Emulator, EmulatorStartError
    from identity_web.emulator._manifest import EmulatorManifest
    from identity_web.emulator._recording import ScriptedResponse
    from identity_web.emulator._state import EmulatorState

#: Public name → the module that defines it, imported by `__getattr__` on first access.
_LAZY: dict[str, str] = {
    "Emulator": "identity_web.emulator._emulator",
    "EmulatorConfig": "identity_web.emulator._config",
    "EmulatorManifest": "identity_web.emulator._manifest",
    "EmulatorStartError": "identity_web.emulator._emulator",
    "EmulatorState": "identity_web.emulator._state",
    "ScriptedResponse": "identity_web.emulator._recording",
}

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EmulatorManifest",
    "EmulatorStartError",
    "EmulatorState",
    "ScriptedResponse",
]


__getattr__, __dir__ = _lazy_attributes(__name__, _LAZY, globals())
