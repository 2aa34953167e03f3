"""Validation of one section, including near-miss detection for unknown keys.

Unknown keys are ignored for binding (as .NET does), with one exception that catches typos:
an unknown key that is close to a known key of the same section (difflib ratio >= 0.8,
case-insensitive) while that known key is absent is reported as a problem —
`AzureAd.ClientID2: unknown key; did you mean ClientId?`. Keys that Identity.Web knows but this
daemon library does not use (`Domain`, `CallbackPath`, legacy `ClientCertificates` …) are
never reported.

Values work alike for the few keys whose values form a known set while the key is a free string
in Identity.Web (`ProtocolScheme`, `HttpMethod`): a value close to a known one but not equal to
it (`MTLS-POP`) is a problem, so a typo cannot silently turn a bound token into a bearer token.
Values that are not close to any known one are left alone.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from pydantic import ValidationError

from identity_web._errors import ConfigurationProblem
from identity_web.settings._models import SettingsModel
from identity_web.settings._problems import format_path, problems_from
from identity_web.settings._suggest import closest

M = TypeVar("M", bound=SettingsModel)

# Identity.Web / MSAL / ASP.NET keys that are legitimately present and not ours to bind.
FOREIGN_KEYS = frozenset(
    key.casefold()
    for key in (
        *("Audience", "Audiences", "AllowWebApiToBeAuthorizedByACL", "Name", "Domain"),
        *("SignUpSignInPolicyId", "ResetPasswordPolicyId", "EditProfilePolicyId"),
        *("WithSpaAuthCode", "ResetPasswordPath", "ErrorPath", "UseFastUnboundedCache"),
        *("PartitionAppTokenCacheByAudience", "LegacyCacheCompatibilityEnabled"),
        *("UserAssignedManagedIdentityClientId", "ClientSecret", "ClientCertificates"),
        *("TokenDecryptionCertificates", "TokenDecryptionCredentials"),
        *("ClientCredentialsUsingManagedIdentity", "AadAuthorityAudience", "AzureCloudInstance"),
        *("ClientName", "ClientVersion", "LogLevel", "IsDefaultPlatformLoggingEnabled"),
        *("RedirectUri", "EnableCacheSynchronization", "CallbackPath", "SignedOutCallbackPath"),
        *("SignedOutRedirectUri", "ResponseType", "Scopes", "Scope", "Certificate"),
        *("CachedValue", "CredentialType", "Id", "DecryptKeysAuthenticationOptions"),
        *("Container", "ReferenceOrValue", "ReferenceOrLocation", "FmiPath", "PopPublicKey"),
        *("PopClaim", "LongRunningWebApiSessionKey", "UserFlow", "ExtraParameters"),
    )
)


# Keys (as spelt by Identity.Web) whose values are checked for near misses, with the known values.
KNOWN_VALUES: dict[str, tuple[str, ...]] = {
    "ProtocolScheme": ("Bearer", "MTLS_POP"),
    "HttpMethod": ("Get", "Post", "Put", "Patch", "Delete", "Head", "Options"),
}


def validate_section(model: type[M], data: Any, path: Sequence[str | int]) -> M:
    """Validate `data` as `model`; raise `SectionInvalid` listing every problem under `path`."""
    problems = near_misses(model, data, path)
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


def near_misses(
    model: type[SettingsModel], data: Any, path: Sequence[str | int]
) -> list[ConfigurationProblem]:
    """Unknown keys that look like misspellings of absent known keys, recursively."""
    if not isinstance(data, Mapping):
        return []
    known = {key.casefold(): key for key in model.known_keys()}
    present = {str(key).casefold() for key in data}
    problems: list[ConfigurationProblem] = []
    for key, value in data.items():
        folded = str(key).casefold()
        if folded in known:
            child = nested_model(model, known[folded])
            if child is not None:
                problems += _nested(child, value, [*path, str(key)])
            problems += _value_near_miss(known[folded], value, [*path, str(key)])
            continue
        if folded in FOREIGN_KEYS or folded.replace("_", "") in known:
            continue
        match = closest(str(key), known.values())
        if match is not None and match.casefold() not in present:
            problems.append(
                ConfigurationProblem(
                    format_path([*path, str(key)]), f"unknown key; did you mean {match}?"
                )
            )
    return problems


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


def _nested(
    model: type[SettingsModel], value: Any, path: list[str | int]
) -> list[ConfigurationProblem]:
    if isinstance(value, list | tuple):
        found: list[ConfigurationProblem] = []
        for index, item in enumerate(value):
            found += near_misses(model, item, [*path, index])
        return found
    return near_misses(model, value, path)


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
