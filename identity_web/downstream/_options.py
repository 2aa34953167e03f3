"""Effective options of one call: the configured section, a per-call override, the verb (pure).

The configured options are never changed: every function returns a new frozen object.

An override is a mapping with Identity.Web's keys (any case, snake_case too), the same shape as
the downstream section in `appsettings.json`. Values replace the configured ones; the header and
query maps (`ExtraHeaderParameters`, `ExtraQueryParameters` and those of `AcquireTokenOptions`)
merge key by key with the override winning; `AcquireTokenOptions` merges field by field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.settings import AcquireTokenOptions, DownstreamApiOptions
from identity_web.settings._checks import SectionInvalid, validate_section
from identity_web.settings._models import SettingsModel

# Maps whose keys are HTTP header names: merged case-insensitively.
_HEADER_MAPS = frozenset({"ExtraHeaderParameters", "ExtraHeadersParameters"})
_QUERY_MAPS = frozenset({"ExtraQueryParameters"})
_NESTED = {"AcquireTokenOptions": AcquireTokenOptions}


def apply_overrides(
    options: DownstreamApiOptions, overrides: Mapping[str, Any] | None, *, api: str
) -> DownstreamApiOptions:
    """`options` with `overrides` applied, validated like the configuration itself."""
    if not overrides:
        return options
    where = f"{api} (per-call overrides)"
    merged = _merge(DownstreamApiOptions, options.model_dump(by_alias=True), overrides, where)
    try:
        return validate_section(DownstreamApiOptions, merged, [where])
    except SectionInvalid as invalid:
        raise ConfigurationError(invalid.problems) from None


def for_app_verb(options: DownstreamApiOptions, method: str) -> DownstreamApiOptions:
    """What the typed helpers (`get`, `post`, …) send: that verb, as the application."""
    return options.model_copy(update={"http_method": method, "request_app_token": True})


def with_claims(options: DownstreamApiOptions, claims: str) -> DownstreamApiOptions:
    """The options to re-acquire a token with after a claims challenge."""
    acquire = options.acquire_token_options.model_copy(update={"claims": claims})
    return options.model_copy(update={"acquire_token_options": acquire})


def _merge(
    model: type[SettingsModel], base: dict[str, Any], override: Mapping[str, Any], where: str
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        canonical = model.canonical_key(str(key))
        if canonical is None:
            allowed = ", ".join(model.known_keys())
            problem = f"unknown key {key!r}; allowed: {allowed}"
            raise ConfigurationError([ConfigurationProblem(where, problem)])
        merged[canonical] = _merge_value(canonical, merged.get(canonical), value, where)
    return merged


def _merge_value(key: str, base: Any, value: Any, where: str) -> Any:
    if key in _NESTED and isinstance(value, Mapping) and isinstance(base, Mapping):
        return _merge(_NESTED[key], dict(base), value, f"{where}.{key}")
    if key in _HEADER_MAPS | _QUERY_MAPS and isinstance(value, Mapping):
        return _merge_map(base, value, case_insensitive=key in _HEADER_MAPS)
    return value


def _merge_map(
    base: Mapping[str, Any] | None, override: Mapping[str, Any], *, case_insensitive: bool
) -> dict[str, Any]:
    merged = dict(base or {})
    for key, value in override.items():
        if case_insensitive:
            for existing in [k for k in merged if k.lower() == str(key).lower()]:
                del merged[existing]
        merged[str(key)] = value
    return merged
