"""Checks on `Section__Key__0__Name` variables (environment and `.env`) before they bind.

.NET binds a list only from indexed children, so `MyApi__Scopes=x` (no index) and
`AzureAd__ClientCredentials__first__SourceType` (not a number) would be dropped without a word;
here they are errors naming the variable. Two variables that differ only in case
(`AzureAd__ClientId`, `AZUREAD__CLIENTID`) would let one silently win; an error too. Only the
sections the package reads are checked (the application section and the downstream API
sections); variables of other sections (`Logging__LogLevel__Default`) are not ours to judge.
"""

from __future__ import annotations

import typing
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from identity_web._errors import ConfigurationProblem
from identity_web.settings._checks import nested_model
from identity_web.settings._merge import is_index
from identity_web.settings._models import (
    DownstreamApiOptions,
    MicrosoftIdentityApplicationOptions,
    SettingsModel,
)
from identity_web.settings._problems import format_path

SEPARATOR = "__"


def variable_problems(
    variables: Iterable[tuple[str, str]],
    source: str,
    *,
    section: str,
    downstream: Mapping[str, str],
    downstream_apis: str,
) -> list[ConfigurationProblem]:
    """Problems of the variables that bind into the package's sections.

    `downstream` maps case-folded top-level names of downstream API sections to their spelling.
    """
    problems: list[ConfigurationProblem] = []
    seen: dict[str, str] = {}
    for name, _value in sorted(variables):
        segments = name.split(SEPARATOR)
        located = _locate(segments, section, downstream, downstream_apis)
        if located is None:
            continue
        model, parts, rest = located
        where = f"{source} variable {name}"
        twin = seen.setdefault(name.casefold(), name)
        if twin != name:
            problems.append(
                ConfigurationProblem(
                    format_path([*parts, *rest]),
                    f"{where} and {twin} differ only in case; keys are case-insensitive: keep one",
                )
            )
        if not all(segments):
            problems.append(
                ConfigurationProblem(format_path(parts), f"{where} has an empty segment ('____')")
            )
            continue
        problem = _index_problem(model, parts, rest, where)
        if problem is not None:
            problems.append(problem)
    return problems


def _locate(
    segments: Sequence[str], section: str, downstream: Mapping[str, str], downstream_apis: str
) -> tuple[type[SettingsModel], list[str | int], list[str]] | None:
    """(model, display path of the section, the remaining segments), or None (not ours)."""
    top = segments[0].casefold()
    if top == section.casefold():
        return MicrosoftIdentityApplicationOptions, [section], list(segments[1:])
    if top == downstream_apis.casefold() and len(segments) > 1:
        return DownstreamApiOptions, [downstream_apis, segments[1]], list(segments[2:])
    if top in downstream:
        return DownstreamApiOptions, [downstream[top]], list(segments[1:])
    return None


def _index_problem(
    model: type[SettingsModel], parts: list[str | int], rest: list[str], where: str
) -> ConfigurationProblem | None:
    current: type[SettingsModel] | None = model
    index = 0
    while current is not None and index < len(rest):
        key = current.canonical_key(rest[index])
        if key is None:
            return None  # an unknown key: the section check names it, with a did-you-mean
        parts.append(key)
        annotation = _annotation(current, key)
        index += 1
        if _is_list(annotation):
            if index >= len(rest):
                example = SEPARATOR.join([*rest[:index], "0"])
                return ConfigurationProblem(
                    format_path(parts),
                    f"{where}: {key} is a list; give each item its index "
                    f"({example}=…): a value without an index is not bound",
                )
            if not is_index(rest[index]):
                return ConfigurationProblem(
                    format_path(parts),
                    f"{where}: {key} is a list; found the index {rest[index]!r}, "
                    "expected a number (0, 1, …)",
                )
            parts.append(int(rest[index]))
            index += 1
        current = nested_model(current, key)
    return None


def _annotation(model: type[SettingsModel], alias: str) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == alias:
            return info.annotation
    return None


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (tuple, list)
