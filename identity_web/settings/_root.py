"""`IdentityWebSettings`: the application section plus every downstream API section.

Downstream API sections are found the way Identity.Web registers them: any top-level section
by name (`AddDownstreamApi("MyApi", Configuration.GetSection("MyApi"))`) or a child of the
`DownstreamApis` section (`AddDownstreamApis(Configuration.GetSection("DownstreamApis"))`).
Names match case-insensitively; a top-level section wins over a `DownstreamApis` child of the
same name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.settings._cache import SECTION as TOKEN_CACHE
from identity_web.settings._cache import TokenCacheOptions
from identity_web.settings._checks import SectionInvalid, check_keys, validate_section
from identity_web.settings._cimap import CaseInsensitiveMapping
from identity_web.settings._models import DownstreamApiOptions, MicrosoftIdentityApplicationOptions
from identity_web.settings._suggest import did_you_mean

logger = logging.getLogger(__name__)

DEFAULT_SECTION = "AzureAd"
DOWNSTREAM_APIS = "DownstreamApis"

# Keys that make a top-level section look like a downstream API (validated at load time).
_API_MARKERS = (
    "BaseUrl",
    "RelativePath",
    "ProtocolScheme",
    "RequestAppToken",
    "AcquireTokenOptions",
)
_IDENTITY_MARKERS = ("Instance", "TenantId", "ClientId", "Authority")


@dataclass(frozen=True, slots=True)
class IdentityWebSettings:
    """Validated settings. `raw` is the whole merged configuration, read-only, case-insensitive."""

    azure_ad: MicrosoftIdentityApplicationOptions = field(
        default_factory=MicrosoftIdentityApplicationOptions
    )
    raw: CaseInsensitiveMapping = field(default_factory=CaseInsensitiveMapping, repr=False)
    section: str = DEFAULT_SECTION
    token_cache: TokenCacheOptions = field(default_factory=TokenCacheOptions)

    @classmethod
    def from_mapping(
        cls, data: Mapping[str, Any], *, section: str = DEFAULT_SECTION
    ) -> IdentityWebSettings:
        """Validate a configuration dict (Identity.Web keys, any case). Raises ConfigurationError
        listing every problem of the application section and of every downstream API section."""
        raw = data if isinstance(data, CaseInsensitiveMapping) else CaseInsensitiveMapping(data)
        problems: list[ConfigurationProblem] = []
        azure_ad = MicrosoftIdentityApplicationOptions()
        try:
            azure_ad = validate_section(
                MicrosoftIdentityApplicationOptions,
                raw.get(section),
                [raw.actual_key(section) or section],
            )
        except SectionInvalid as invalid:
            problems += invalid.problems
        token_cache = TokenCacheOptions()
        try:
            cache_path = [raw.actual_key(TOKEN_CACHE) or TOKEN_CACHE]
            token_cache = validate_section(TokenCacheOptions, raw.get(TOKEN_CACHE), cache_path)
        except SectionInvalid as invalid:
            problems += invalid.problems
        settings = cls(azure_ad=azure_ad, raw=raw, section=section, token_cache=token_cache)
        for name in settings.downstream_api_names():
            try:
                settings.downstream_api(name)
            except ConfigurationError as error:
                problems += error.problems
        if problems:
            raise ConfigurationError(problems)
        _warn_ignored(settings.ignored_keys())
        return settings

    def ignored_keys(self) -> tuple[str, ...]:
        """Identity.Web keys present in the package's sections that identity-web does not act
        on (`AzureAd.Domain`, `AzureAd.CallbackPath` …), as key paths."""
        found = check_keys(
            MicrosoftIdentityApplicationOptions,
            self.raw.get(self.section),
            [self.raw.actual_key(self.section) or self.section],
        ).ignored
        for name in self.downstream_api_names():
            located = self._find_api(name)
            if located is not None:
                found += check_keys(DownstreamApiOptions, located[1], located[0]).ignored
        return tuple(found)

    def downstream_api(self, name: str) -> DownstreamApiOptions:
        """The downstream API section `name` (case-insensitive), validated.

        Raises ConfigurationError naming the section when it is missing or invalid.
        """
        found = self._find_api(name)
        if found is None:
            known = self.downstream_api_names()
            listed = ", ".join(known) if known else "none"
            raise ConfigurationError(
                [
                    ConfigurationProblem(
                        name,
                        f"no downstream API section named {name!r} (neither a top-level section "
                        f"nor under {DOWNSTREAM_APIS}); sections that look like downstream APIs: "
                        f"{listed}{did_you_mean(name, known)}",
                    )
                ]
            )
        path, data = found
        try:
            return validate_section(DownstreamApiOptions, data, path)
        except SectionInvalid as invalid:
            raise ConfigurationError(invalid.problems) from None

    def raw_section(self, name: str) -> CaseInsensitiveMapping:
        """Downstream API section `name` as configured (before validation); empty if absent."""
        found = self._find_api(name)
        data = found[1] if found is not None else None
        return data if isinstance(data, CaseInsensitiveMapping) else CaseInsensitiveMapping()

    def downstream_api_names(self) -> tuple[str, ...]:
        """Names of the sections that look like downstream APIs (as spelt in the files)."""
        names: dict[str, str] = {}
        for key, value in self.raw.items():
            if key.casefold() == DOWNSTREAM_APIS.casefold() and isinstance(value, Mapping):
                for child, options in value.items():
                    if isinstance(options, Mapping):
                        names.setdefault(child.casefold(), child)
            elif key.casefold() != self.section.casefold() and _looks_like_api(value):
                names[key.casefold()] = key
        return tuple(names.values())

    def downstream_api_path(self, name: str) -> tuple[str, ...] | None:
        """Where section `name` is, as spelt: `("MyApi",)` or `("DownstreamApis", "Graph")`."""
        found = self._find_api(name)
        return None if found is None else tuple(str(part) for part in found[0])

    def _find_api(self, name: str) -> tuple[list[str | int], Any] | None:
        top = self.raw.actual_key(name)
        if top is not None and top.casefold() != DOWNSTREAM_APIS.casefold():
            return [top], self.raw[top]
        apis = self.raw.get(DOWNSTREAM_APIS)
        if isinstance(apis, CaseInsensitiveMapping):
            child = apis.actual_key(name)
            if child is not None:
                return [self.raw.actual_key(DOWNSTREAM_APIS) or DOWNSTREAM_APIS, child], apis[child]
        return None


def _warn_ignored(paths: tuple[str, ...]) -> None:
    if paths:
        logger.warning(
            "Identity.Web keys that identity-web reads but does not act on (see "
            "docs/configuration.md): %s",
            ", ".join(paths),
        )


def is_package_section(name: str, value: Any, section: str = DEFAULT_SECTION) -> bool:
    """True for the top-level sections the package reads: the application section,
    `DownstreamApis`, and the sections that look like a downstream API."""
    folded = name.casefold()
    if folded in (section.casefold(), DOWNSTREAM_APIS.casefold()):
        return True
    return _looks_like_api(value)


def _looks_like_api(value: Any) -> bool:
    if not isinstance(value, Mapping):
        return False
    if any(marker in value for marker in _API_MARKERS):
        return True
    return "Scopes" in value and not any(marker in value for marker in _IDENTITY_MARKERS)
