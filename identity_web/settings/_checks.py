"""Validation of one section: the model's own checks, then every key accounted for.

Sections the package reads are strict, recursively (`AzureAd`, its `ClientCredentials[]`, each
downstream API section, its `AcquireTokenOptions` and `ManagedIdentity`): a key is bound by the
model, or is an Identity.Web key listed in `_keys` (ignored with a warning, or refused with the
reason), or it is an error with a did-you-mean — `ManagedIdentity.ClientId: unknown key; did you
mean UserAssignedClientId?`. Two keys of one object that differ only in case are an error too
(.NET would let the last one win without a word).

`HttpMethod` is a free string in Identity.Web; a value close to a known verb but not equal to it
(`GETT`) is a problem, while unrelated verbs (`PROPFIND`) pass.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError

from identity_web._errors import ConfigurationProblem
from identity_web.settings import _keys
from identity_web.settings._models import SettingsModel
from identity_web.settings._problems import format_path, problems_from
from identity_web.settings._suggest import closest, did_you_mean

M = TypeVar("M", bound=SettingsModel)

# Keys (as spelt by Identity.Web) whose values are checked for near misses, with the known values.
KNOWN_VALUES: dict[str, tuple[str, ...]] = {
    "HttpMethod": ("Get", "Post", "Put", "Patch", "Delete", "Head", "Options"),
}


@dataclass
class KeyReport:
    """What a walk over a section's keys found: problems, and Identity.Web keys not acted on."""

    problems: list[ConfigurationProblem] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


def validate_section(model: type[M], data: Any, path: Sequence[str | int]) -> M:
    """Validate `data` as `model`; raise `SectionInvalid` listing every problem under `path`."""
    problems = check_keys(model, data, path).problems
    try:
        result = model.model_validate(data if data is not None else {})
    except ValidationError as error:
        problems = problems_from(error, path) + problems
        raise SectionInvalid(problems) from None
    if problems:
        raise SectionInvalid(problems)
    return result


class SectionInvalid(Exception):  # noqa: N818 - internal signal, converted to ConfigurationError
    """Internal: carries the problems of one section up to whoever collects them."""

    def __init__(self, problems: list[ConfigurationProblem]) -> None:
        super().__init__(problems)
        self.problems = problems


def check_keys(model: type[SettingsModel], data: Any, path: Sequence[str | int]) -> KeyReport:
    """Every key of `data` (a section of `model`) accounted for, recursively."""
    report = KeyReport()
    _walk(model, data, list(path), report)
    return report


def _walk(model: type[SettingsModel], data: Any, path: list[str | int], report: KeyReport) -> None:
    if not isinstance(data, Mapping):
        return
    report.problems += case_duplicates(data, path)
    known = {key.casefold(): key for key in model.known_keys()}
    for key, value in data.items():
        text = str(key)
        here = [*path, text]
        canonical = model.canonical_key(text)
        if canonical is not None:
            child = nested_model(model, canonical)
            if child is not None:
                _walk_child(child, value, here, report)
            report.problems += _value_near_miss(canonical, value, here)
        elif _keys.ignored(model, text):
            report.ignored.append(format_path(here))
        else:
            report.problems.append(_unknown(model, text, here, known))


def _unknown(
    model: type[SettingsModel], key: str, path: list[str | int], known: Mapping[str, str]
) -> ConfigurationProblem:
    reason = _keys.unsupported(model, key)
    if reason is not None:
        return ConfigurationProblem(format_path(path), f"not supported: {reason}")
    candidates = [*known.values(), *_keys.ignored_keys(model)]
    hint = did_you_mean(key.strip(), candidates) or _suffix_hint(key, known.values())
    if not hint:
        hint = f"; known keys: {', '.join(known.values())}"
    return ConfigurationProblem(format_path(path), f"unknown key{hint}")


def _suffix_hint(key: str, candidates: Iterable[str]) -> str:
    """`ClientId` under ManagedIdentity → `UserAssignedClientId` (a known key ending like it)."""
    folded = key.strip().casefold()
    matches = [name for name in candidates if name.casefold().endswith(folded)]
    return f"; did you mean {matches[0]}?" if len(folded) > 1 and len(matches) == 1 else ""


def case_duplicates(
    data: Mapping[Any, Any], path: Sequence[str | int]
) -> list[ConfigurationProblem]:
    """Keys of one object that differ only in case (`ClientId` and `clientid`)."""
    spellings: dict[str, list[str]] = {}
    for key in data:
        spellings.setdefault(str(key).casefold(), []).append(str(key))
    return [
        ConfigurationProblem(
            format_path([*path, keys[-1]]),
            f"set {len(keys)} times with different case ({', '.join(repr(k) for k in keys)}); "
            "keys are case-insensitive: keep one",
        )
        for keys in spellings.values()
        if len(keys) > 1
    ]


def _walk_child(
    model: type[SettingsModel], value: Any, path: list[str | int], report: KeyReport
) -> None:
    if isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _walk(model, item, [*path, index], report)
    else:
        _walk(model, value, path, report)


def _value_near_miss(key: str, value: Any, path: list[str | int]) -> list[ConfigurationProblem]:
    allowed = KNOWN_VALUES.get(key)
    if allowed is None or not isinstance(value, str):
        return []
    text = value.strip()
    if text.casefold() in (known.casefold() for known in allowed):
        return []
    match = closest(text, allowed)
    if match is None:
        return []
    message = f"found {value!r}; not a known {key} ({', '.join(allowed)}); did you mean {match}?"
    return [ConfigurationProblem(format_path(path), message)]


def nested_model(model: type[SettingsModel], alias: str) -> type[SettingsModel] | None:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            return _find_model(info.annotation)
    return None


def _find_model(annotation: Any) -> type[SettingsModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, SettingsModel):
        return annotation
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            found = _find_model(arg)
            if found is not None:
                return found
    return None
