"""`identity_web.__all__` is sorted, complete and importable."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Iterator

import identity_web
from identity_web import IdentityWebError


def test_all_is_sorted_and_unique() -> None:
    assert identity_web.__all__ == sorted(set(identity_web.__all__))


def test_every_name_in_all_exists() -> None:
    missing = [name for name in identity_web.__all__ if not hasattr(identity_web, name)]
    assert missing == []


def _classes_in(annotation: object) -> Iterator[type]:
    if inspect.isclass(annotation):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _classes_in(argument)


def _returned_classes(cls: type) -> Iterator[type]:
    """Classes a user gets back from `cls`: return types of its public methods and properties,
    and the types of its public fields."""
    for name, member in inspect.getmembers(cls):
        if name.startswith("_") and name != "__init__":
            continue
        function = member.fget if isinstance(member, property) else member
        if callable(function) and name != "__init__":
            with contextlib.suppress(NameError, TypeError):
                yield from _classes_in(typing.get_type_hints(function).get("return"))
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        for field in dataclasses.fields(cls):
            if not field.name.startswith("_"):
                yield from _classes_in(hints[field.name])


def _ours(cls: type) -> bool:
    module = cls.__module__
    return module.startswith("identity_web.") and not module.startswith(
        ("identity_web.settings", "identity_web.emulator")
    )


#: Public modules: each exports its names in `__all__` (the root exports the main ones).
PUBLIC_MODULES = (
    "identity_web",
    "identity_web.acquisition",
    "identity_web.cache",
    "identity_web.container",
    "identity_web.credentials",
    "identity_web.downstream",
    "identity_web.managed_identity",
    "identity_web.protocol",
    "identity_web.transport",
)


def _exported() -> set[type]:
    exported: set[type] = set()
    for name in PUBLIC_MODULES:
        module = importlib.import_module(name)
        names = getattr(module, "__all__", None) or [
            n for n, v in vars(module).items() if inspect.isclass(v) and v.__module__ == name
        ]
        exported |= {getattr(module, n) for n in names if inspect.isclass(getattr(module, n))}
    return exported


def test_every_public_class_reachable_from_the_package_is_exported() -> None:
    """Start from the root's classes; every class of ours they hand back (return types and
    fields, transitively) is exported by a public module (the root, `protocol`, …)."""
    seen: set[type] = set()
    todo = [getattr(identity_web, name) for name in identity_web.__all__]
    todo = [value for value in todo if inspect.isclass(value)]
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(found for found in _returned_classes(cls) if _ours(found))
    reachable = {cls for cls in seen if _ours(cls)}
    assert {cls.__qualname__ for cls in reachable - _exported()} == set()
    assert len(reachable) > 20  # the walk did reach past the root names


def test_the_documented_entry_points_are_exported() -> None:
    for name in (
        "TokenAcquirerFactory",
        "DownstreamApi",
        "DownstreamResponse",
        "DownstreamApiError",
        "AuthorizationHeaderProvider",
        "TokenAcquirer",
    ):
        assert name in identity_web.__all__


def _subclasses(cls: type) -> Iterator[type]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)


def test_every_error_the_library_raises_is_exported() -> None:
    """Users catch errors by class: each one outside the emulator is reachable from the root."""
    for module in pkgutil.walk_packages(identity_web.__path__, "identity_web."):
        if not module.name.endswith(("__main__", "pytest_plugin")):
            importlib.import_module(module.name)
    errors = {
        error.__name__
        for error in _subclasses(IdentityWebError)
        if error.__module__.startswith("identity_web.")
        and not error.__module__.startswith("identity_web.emulator")
    }
    assert errors - set(identity_web.__all__) == set()
    for name in errors:
        assert issubclass(getattr(identity_web, name), IdentityWebError)


def test_the_documented_api_of_the_acquirer_is_exported() -> None:
    assert identity_web.TokenRequestOptions(force_refresh=True).force_refresh
