"""`load_settings()`: read every source, merge them in order, validate once.

Precedence, lowest to highest: defaults (the models' own) < the variables Azure sets
(`AZURE_CLIENT_ID` …, only where nothing else set the key; see `_azure`) < `appsettings.json` <
`appsettings.{Environment}.json` < `appsettings.yaml` < `appsettings.yml` < `.env` <
environment variables < explicit `overrides`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.settings._azure import azure_variables, fill_from_azure
from identity_web.settings._cache import SECTION as TOKEN_CACHE
from identity_web.settings._cache import TokenCacheOptions
from identity_web.settings._checks import case_duplicates, nested_model
from identity_web.settings._cimap import CaseInsensitiveMapping
from identity_web.settings._files import FileInvalid, read_dotenv, read_json, read_yaml
from identity_web.settings._merge import Merged
from identity_web.settings._merge import Path as KeyPath
from identity_web.settings._models import (
    DownstreamApiOptions,
    MicrosoftIdentityApplicationOptions,
    SettingsModel,
)
from identity_web.settings._problems import format_path
from identity_web.settings._root import (
    DEFAULT_SECTION,
    DOWNSTREAM_APIS,
    IdentityWebSettings,
    is_package_section,
)
from identity_web.settings._variables import variable_problems

logger = logging.getLogger(__name__)

DEFAULTS = "defaults"
DOTENV = ".env"
ENV = "env"
ARGUMENTS = "arguments"
ENVIRONMENT_VARIABLES = ("IDENTITYWEB_ENVIRONMENT", "DOTNET_ENVIRONMENT")


@dataclass(frozen=True, slots=True)
class LoadedSettings:
    """Validated settings plus where each value came from.

    `sources` maps key paths as displayed (`AzureAd.ClientCredentials[0].SourceType`) to the
    name of the source that supplied the value; keys no source supplied come from `defaults`.
    """

    settings: IdentityWebSettings
    sources: Mapping[str, str] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    environment: str | None = None
    config_dir: Path = field(default_factory=Path.cwd)

    def source_of(self, path: str) -> str:
        """The source of one key path (case-insensitive); `defaults` when no source set it."""
        folded = path.casefold()
        for key, source in self.sources.items():
            if key.casefold() == folded:
                return source
        return DEFAULTS


def load_settings(
    config_dir: str | os.PathLike[str] | None = None,
    *,
    environment: str | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    section: str = DEFAULT_SECTION,
) -> LoadedSettings:
    """Load, merge and validate. Raises ConfigurationError listing every problem found."""
    directory = Path(config_dir) if config_dir is not None else Path.cwd()
    if not directory.is_dir():
        raise ConfigurationError(f"the configuration directory {directory} does not exist")
    variables = os.environ if environ is None else environ
    if environment is None:
        environment = next((variables[n] for n in ENVIRONMENT_VARIABLES if variables.get(n)), None)
    merged, files = _merge_sources(directory, environment, variables, overrides, section)
    settings = IdentityWebSettings.from_mapping(merged.data, section=section)
    sources = {_display(path, settings): source for path, source in merged.sources.items()}
    logger.debug("Loaded settings from %s (environment %s)", directory, environment)
    return LoadedSettings(settings, sources, files, environment, directory)


def _file_layers(directory: Path, environment: str | None) -> list[tuple[str, Path, Reader]]:
    names: list[tuple[str, Reader]] = [("appsettings.json", read_json)]
    if environment:
        names.append((f"appsettings.{environment}.json", read_json))
    names += [("appsettings.yaml", read_yaml), ("appsettings.yml", read_yaml)]
    return [
        (name, directory / name, reader) for name, reader in names if (directory / name).is_file()
    ]


Reader = Callable[[Path], Mapping[str, Any]]


def _merge_sources(
    directory: Path,
    environment: str | None,
    variables: Mapping[str, str],
    overrides: Mapping[str, Any] | None,
    section: str,
) -> tuple[Merged, tuple[Path, ...]]:
    merged = Merged()
    problems: list[ConfigurationProblem] = []
    layers = _file_layers(directory, environment)
    for name, path, reader in layers:
        try:
            layer = reader(path)
        except FileInvalid as invalid:
            problems.append(invalid.problem)
            continue
        problems += _case_twins(layer, name, section)
        merged.add(layer, name)
    dotenv: dict[str, str] = {}
    if (directory / DOTENV).is_file():
        try:
            dotenv = read_dotenv(directory / DOTENV)
        except FileInvalid as invalid:
            problems.append(invalid.problem)
    if problems:
        raise ConfigurationError(problems, source=str(directory))
    sections = {key.casefold() for key in merged.data} | {section.casefold()}
    layered = [(DOTENV, _selected(dotenv.items(), sections))]
    layered.append((ENV, _selected(variables.items(), sections)))
    for source, selected in layered:
        merged.add_variables(selected, source)
    problems += _variable_problems(merged, layered, section)
    if overrides:
        problems += _case_twins(overrides, ARGUMENTS, section)
        merged.add(overrides, ARGUMENTS, replace_lists=True)
    if problems:
        raise ConfigurationError(problems, source=str(directory))
    azure = azure_variables([(DOTENV, dotenv), (ENV, variables)])
    fill_from_azure(merged, azure, section=section, downstream_paths=_api_paths(merged, section))
    files = tuple(path for _, path, _ in layers)
    if dotenv:
        files += (directory / DOTENV,)
    return merged, files


def _api_paths(merged: Merged, section: str) -> list[tuple[str, ...]]:
    shape = IdentityWebSettings(raw=CaseInsensitiveMapping(merged.data), section=section)
    paths = (shape.downstream_api_path(name) for name in shape.downstream_api_names())
    return [path for path in paths if path is not None]


def _case_twins(layer: Mapping[str, Any], source: str, section: str) -> list[ConfigurationProblem]:
    """Keys that differ only in case among the top-level sections, and inside the sections the
    package reads (other sections, such as `Logging`, are not ours to judge)."""
    found = _duplicates_in(dict.fromkeys(layer), source)
    for key, value in layer.items():
        if is_package_section(str(key), value, section):
            found += _duplicates_in(value, source, (str(key),))
    return found


def _duplicates_in(layer: Any, source: str, path: KeyPath = ()) -> list[ConfigurationProblem]:
    """Keys of one object of one source that differ only in case, at any depth."""
    found: list[ConfigurationProblem] = []
    if isinstance(layer, Mapping):
        found += [
            ConfigurationProblem(problem.path, f"{problem.message} (in {source})")
            for problem in case_duplicates(layer, path)
        ]
        for key, value in layer.items():
            found += _duplicates_in(value, source, (*path, str(key)))
    elif isinstance(layer, list):
        for index, value in enumerate(layer):
            found += _duplicates_in(value, source, (*path, index))
    return found


def _variable_problems(
    merged: Merged, layered: list[tuple[str, list[tuple[str, str]]]], section: str
) -> list[ConfigurationProblem]:
    shape = IdentityWebSettings(raw=CaseInsensitiveMapping(merged.data), section=section)
    downstream = {
        name.casefold(): name
        for name in shape.downstream_api_names()
        if len(shape.downstream_api_path(name) or ()) == 1
    }
    problems: list[ConfigurationProblem] = []
    for source, selected in layered:
        problems += variable_problems(
            selected,
            source,
            section=section,
            downstream=downstream,
            downstream_apis=DOWNSTREAM_APIS,
        )
    return problems


def _selected(variables: Iterable[tuple[str, str]], sections: set[str]) -> list[tuple[str, str]]:
    """Variables that bind: any `A__B` name, and plain names equal to a known section."""
    return [
        (name, value) for name, value in variables if "__" in name or name.casefold() in sections
    ]


def _display(path: KeyPath, settings: IdentityWebSettings) -> str:
    """A key path with Identity.Web's spelling for every key the models know."""
    if not path:
        return ""
    top = str(path[0])
    parts: list[str | int] = [top]
    rest = path[1:]
    model: type[SettingsModel] | None = None
    if top.casefold() == settings.section.casefold():
        parts, model = [settings.section], MicrosoftIdentityApplicationOptions
    elif top.casefold() == TOKEN_CACHE.casefold():
        parts, model = [TOKEN_CACHE], TokenCacheOptions
    elif top.casefold() == DOWNSTREAM_APIS.casefold() and rest:
        parts, rest, model = [top, rest[0]], rest[1:], DownstreamApiOptions
    elif top.casefold() in {name.casefold() for name in settings.downstream_api_names()}:
        model = DownstreamApiOptions
    for part in rest:
        if isinstance(part, str) and model is not None:
            known = model.canonical_key(part)
            model = nested_model(model, known) if known else None
            parts.append(known or part)
        else:
            parts.append(part)
    return format_path(parts)
