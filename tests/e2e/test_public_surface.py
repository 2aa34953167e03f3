"""`identity_web.__all__` is sorted, complete and importable."""

from __future__ import annotations

import inspect

import identity_web


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
