"""A local emulator of Entra ID (login and mtlsauth hosts), IMDS and an mTLS-bound resource API.

`Emulator(config).start()` (or `with Emulator() as emulator:`) runs every host on ephemeral
loopback ports over real TLS; `emulator.manifest` tells clients where they are. See
docs/emulator.md.
"""

from identity_web.emulator._config import EmulatorConfig
from identity_web.emulator._emulator import Emulator, EmulatorStartError
from identity_web.emulator._manifest import EmulatorManifest
from identity_web.emulator._recording import ScriptedResponse
from identity_web.emulator._state import EmulatorState

__all__ = [
    "Emulator",
    "EmulatorConfig",
    "EmulatorManifest",
    "EmulatorStartError",
    "EmulatorState",
    "ScriptedResponse",
]
