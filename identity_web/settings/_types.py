"""Annotated field types shared by the settings models (how .NET-style values are read)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

from identity_web.settings._frozen import FrozenMap, HiddenValuesMap


def _text(value: Any) -> Any:
    """JSON/YAML true/false where text is expected become "true"/"false"."""
    return ("true" if value else "false") if isinstance(value, bool) else value


def _blank_to_none(value: Any) -> Any:
    """.NET treats an empty string as 'not set' (string.IsNullOrEmpty)."""
    return None if isinstance(value, str) and not value.strip() else _text(value)


def _texts(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _text(item) for key, item in value.items()}
    return value


def _split_words(value: Any) -> Any:
    """A single string where a list is expected: split on whitespace (older Identity.Web form)."""
    return tuple(value.split()) if isinstance(value, str) else value


def _freeze_map(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return FrozenMap(value)


def _freeze_hidden(value: Mapping[str, Any]) -> Mapping[str, Any]:
    return HiddenValuesMap(value)


def _check_guid(value: str | None) -> str | None:
    if value is not None:
        try:
            uuid.UUID(value)
        except ValueError:
            raise ValueError("not a GUID") from None
    return value


OptStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
StrTuple = Annotated[
    tuple[str, ...],
    BeforeValidator(_split_words),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "array", "items": {"type": "string"}},
                {"type": "string", "description": "space-separated values"},
            ]
        }
    ),
]
StrMap = Annotated[
    Mapping[str, str],
    BeforeValidator(_texts),
    AfterValidator(_freeze_map),
    PlainSerializer(dict, return_type=dict),
]
#: A string map whose values stay out of reprs (HTTP headers, which may carry API keys).
HiddenStrMap = Annotated[
    Mapping[str, str],
    BeforeValidator(_texts),
    AfterValidator(_freeze_hidden),
    PlainSerializer(dict, return_type=dict),
]
AnyMap = Annotated[
    Mapping[str, Any], AfterValidator(_freeze_map), PlainSerializer(dict, return_type=dict)
]
Guid = Annotated[OptStr, AfterValidator(_check_guid)]


def empty_map() -> Mapping[str, Any]:
    return FrozenMap()


def empty_hidden_map() -> Mapping[str, Any]:
    return HiddenValuesMap()
