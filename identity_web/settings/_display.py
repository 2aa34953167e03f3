"""The effective settings as a JSON-ready dict with Identity.Web key names, secrets masked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from identity_web._errors import ConfigurationError
from identity_web.settings._loader import LoadedSettings
from identity_web.settings._problems import format_path, is_secret_key
from identity_web.settings._root import IdentityWebSettings

MASK = "***"


def effective_settings(settings: IdentityWebSettings, *, mask: bool = True) -> dict[str, Any]:
    """`{"AzureAd": {...}, "MyApi": {...}, "DownstreamApis": {"Graph": {...}}}`.

    Downstream APIs appear where their section is; unset keys are left out (`{}` is kept).
    """
    result: dict[str, Any] = {
        settings.section: settings.azure_ad.model_dump(
            mode="json", by_alias=True, exclude_none=True
        )
    }
    for name in settings.downstream_api_names():
        path = settings.downstream_api_path(name)
        try:
            options = settings.downstream_api(name)
        except ConfigurationError:
            continue
        if path is None:
            continue
        target = result
        for part in path[:-1]:
            target = target.setdefault(part, {})
        target[path[-1]] = options.model_dump(mode="json", by_alias=True, exclude_none=True)
    return masked(result) if mask else result


def masked(value: Any, key: str = "") -> Any:
    """A copy with the value of every secret-looking key (see `is_secret_key`) replaced."""
    if isinstance(value, Mapping):
        return {name: masked(item, str(name)) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [masked(item, key) for item in value]
    if key and is_secret_key(key) and value is not None:
        return MASK
    return value


def leaves(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str, Any]]:
    """(display path, value) of the leaves (scalars, empty containers) of a dumped dict."""
    if isinstance(value, Mapping) and value:
        for key, item in value.items():
            yield from leaves(item, (*path, str(key)))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from leaves(item, (*path, index))
    else:
        yield format_path(path), value


def settings_sources(loaded: LoadedSettings, effective: Mapping[str, Any]) -> dict[str, str]:
    """For every key of the effective settings, the source that supplied it."""
    return {path: loaded.source_of(path) for path, _ in leaves(effective)}
