"""JSON with comments (`//`, `/* */`), trailing commas and a UTF-8 BOM, as appsettings files are.

Comments and trailing commas are blanked with spaces (newlines kept), so the line and column of
a JSON syntax error still point into the original text.
"""

from __future__ import annotations

import json
from typing import Any


class JsoncError(ValueError):
    """Invalid JSONC; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int, column: int) -> None:
        super().__init__(f"line {line}, column {column}: {message}")
        self.reason = message
        self.line = line
        self.column = column


def loads(text: str) -> Any:
    """Parse JSONC text. Raises JsoncError with the line and column of the first problem."""
    text = text.removeprefix("\ufeff")
    try:
        return json.loads(strip(text))
    except json.JSONDecodeError as error:
        raise JsoncError(error.msg, error.lineno, error.colno) from None
    except RecursionError:
        raise JsoncError("nested too deeply", 1, 1) from None


def strip(text: str) -> str:
    """Plain JSON text of the same length: comments and trailing commas become spaces."""
    return _drop_trailing_commas(_blank_comments(text))


def _position(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def _string_end(text: str, start: int) -> int:
    """Index just past the string literal opening at `start` (or the end of the text)."""
    index = start + 1
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char in ('"', "\n"):
            return index + 1
        index += 1
    return index


def _blank(segment: str) -> str:
    return "".join("\n" if char == "\n" else " " for char in segment)


def _blank_comments(text: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == '"':
            end = _string_end(text, index)
            out.append(text[index:end])
            index = end
        elif text.startswith("//", index):
            end = text.find("\n", index)
            end = len(text) if end < 0 else end
            out.append(_blank(text[index:end]))
            index = end
        elif text.startswith("/*", index):
            end = text.find("*/", index + 2)
            if end < 0:
                raise JsoncError("unterminated /* comment", *_position(text, index))
            out.append(_blank(text[index : end + 2]))
            index = end + 2
        else:
            out.append(char)
            index += 1
    return "".join(out)


def _drop_trailing_commas(text: str) -> str:
    chars = list(text)
    index = 0
    while index < len(chars):
        char = chars[index]
        if char == '"':
            index = _string_end(text, index)
            continue
        if char == ",":
            ahead = index + 1
            while ahead < len(text) and text[ahead] in " \t\r\n":
                ahead += 1
            if ahead < len(text) and text[ahead] in "}]":
                chars[index] = " "
        index += 1
    return "".join(chars)
