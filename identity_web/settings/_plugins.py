"""Plug-ins named in settings: `package.module:factory`, found by import, never guessed.

`AzureAd.ManagedIdentity.KeyProvider` and `.Attestation` take such a name besides their
built-in values. `check_build` imports the module and finds the factory before the network (a
name that cannot be resolved is a `ConfigurationError` naming the key); the managed identity
client calls the factory (no argument) once, when it is built.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable

PLUGIN_PATTERN = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")


def is_plugin_name(value: str) -> bool:
    return PLUGIN_PATTERN.fullmatch(value) is not None


def plugin_factory(name: str) -> Callable[[], object]:
    """The callable `name` (`package.module:attribute[.attribute]`) names; `ValueError` with
    the reason when the module does not import or holds no such callable."""
    module_name, _, attribute = name.partition(":")
    try:
        target: object = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import module {module_name!r} ({error})") from error
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as error:
            raise ValueError(f"module {module_name!r} has no {attribute!r}") from error
    if not callable(target):
        raise ValueError(f"{name!r} is not callable")
    return target
