"""Translate pydantic validation errors into `ConfigurationProblem`s with key paths."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from identity_web._errors import ConfigurationProblem

# Compared with the key case-folded, without "-" and "_": settings keys (ClientSecret,
# CertificatePassword, Base64EncodedValue) and header names (Authorization, X-Api-Key, Cookie).
_SECRET_WORDS = (
    *("secret", "password", "base64encodedvalue", "authorization", "apikey"),
    *("subscriptionkey", "cookie", "authtoken", "accesstoken"),
    *("connectionstring", "encryptionkey"),  # TokenCache: may hold a Redis password; an AES key
)

# pydantic messages that deserve a word about what is allowed.
_FRIENDLIER = {
    "bool_parsing": "expected true or false",
    "bool_type": "expected true or false",
    "string_type": "expected a string",
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "dict_type": "expected an object",
    "model_type": "expected an object",
    "model_attributes_type": "expected an object",
    "mapping_type": "expected an object",
}


def is_secret_key(key: str) -> bool:
    """True for keys whose values are masked: ClientSecret, CertificatePassword, X-Api-Key, …"""
    folded = key.casefold().replace("-", "").replace("_", "")
    return any(word in folded for word in _SECRET_WORDS)


def format_path(parts: Sequence[str | int]) -> str:
    """`["AzureAd", "ClientCredentials", 0, "Skip"]` → `AzureAd.ClientCredentials[0].Skip`."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _found(error: ErrorDetails, path: Sequence[str | int]) -> str:
    keys = [part for part in path if isinstance(part, str)]
    if keys and is_secret_key(keys[-1]):
        return "found a value (masked)"
    value: Any = error.get("input")
    if isinstance(value, Mapping | list | tuple):
        kind = "an object" if isinstance(value, Mapping) else "a list"
        return f"found {kind}"
    text = repr(value)
    return f"found {text if len(text) <= 80 else text[:77] + '...'}"


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    if kind == "missing":
        return "is required"
    message = _FRIENDLIER.get(kind, error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    return message


def problems_from(
    error: ValidationError, prefix: Sequence[str | int]
) -> list[ConfigurationProblem]:
    """One problem per pydantic error, its path prefixed with the section's display path."""
    problems = []
    for detail in error.errors(include_url=False):
        path = [*prefix, *(part for part in detail["loc"] if part != "__root__")]
        message = _message(detail)
        if detail["type"] != "missing":
            message = f"{_found(detail, path)}; {message}"
        problems.append(ConfigurationProblem(format_path(path), message))
    return problems
