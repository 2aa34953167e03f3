"""`identity_web.__all__` is sorted, complete and importable."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Iterator

import identity_web
from identity_web._errors import IdentityWebError


def test_all_is_sorted_and_unique() -> None:
    assert identity_web.__all__ == sorted(set(identity_web.__all__))


def test_every_name_in_all_exists() -> None:
    missing = [name for name in identity_web.__all__ if not hasattr(identity_web, name)]
    assert missing == []


def test_every_public_class_and_function_is_in_all() -> None:
    public = {
        name
        for name, value in vars(identity_web).items()
        if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
    }
    assert public - set(identity_web.__all__) == set()


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
