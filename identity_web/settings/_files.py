"""Reading configuration files: JSONC appsettings, YAML, and `.env` (dotenv syntax).

Every syntax problem becomes a `ConfigurationProblem` whose path is the file name and whose
message gives the line and column.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from identity_web._errors import ConfigurationProblem
from identity_web.settings import _jsonc

logger = logging.getLogger(__name__)


class FileInvalid(Exception):  # noqa: N818 - internal signal, converted to ConfigurationError
    """Internal: one file could not be parsed."""

    def __init__(self, problem: ConfigurationProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise FileInvalid(ConfigurationProblem(path.name, f"cannot read {path}: {error}")) from None


def _require_object(path: Path, data: Any) -> dict[str, Any]:
    if data is None:
        return {}
    problem = _shape_problem(data)
    if problem is not None:
        raise FileInvalid(ConfigurationProblem(path.name, f"not read: {problem}"))
    if not isinstance(data, Mapping):
        kind = type(data).__name__
        raise FileInvalid(
            ConfigurationProblem(path.name, f"the top level must be an object, found {kind}")
        )
    return {str(key): value for key, value in data.items()}


def read_json(path: Path) -> dict[str, Any]:
    """A JSONC appsettings file as a dict."""
    try:
        data = _jsonc.loads(_read_text(path))
    except _jsonc.JsoncError as error:
        message = f"invalid JSON at line {error.line}, column {error.column}: {error.reason}"
        raise FileInvalid(ConfigurationProblem(path.name, message)) from None
    return _require_object(path, data)


def read_yaml(path: Path) -> dict[str, Any]:
    """A YAML settings file as a dict (safe loader), after `_yaml_nesting_problem`."""
    text = _read_text(path)
    problem = _yaml_nesting_problem(text)
    if problem is not None:
        raise FileInvalid(ConfigurationProblem(path.name, f"not read: {problem}"))
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        message = f"invalid YAML{where}: {error.problem or error.context}"
        raise FileInvalid(ConfigurationProblem(path.name, message)) from None
    except yaml.YAMLError as error:
        raise FileInvalid(ConfigurationProblem(path.name, f"invalid YAML: {error}")) from None
    except RecursionError:
        raise FileInvalid(ConfigurationProblem(path.name, "YAML nested too deeply")) from None
    return _require_object(path, data)


MAX_VALUES = 100_000
MAX_DEPTH = 64

_OPENS = (
    yaml.FlowSequenceStartToken,
    yaml.FlowMappingStartToken,
    yaml.BlockSequenceStartToken,
    yaml.BlockMappingStartToken,
)
_CLOSES = (yaml.FlowSequenceEndToken, yaml.FlowMappingEndToken, yaml.BlockEndToken)
#: libyaml's scanner when PyYAML was built with it (a pre-scan in microseconds), then PyYAML's.
_SCANNERS = (*([yaml.CSafeLoader] if yaml.__with_libyaml__ else []), yaml.SafeLoader)
_TOO_DEEP = f"it is nested more than {MAX_DEPTH} levels deep"


def _yaml_nesting_problem(text: str) -> str | None:
    """Why `text` is nested too deeply to be settings, else None: its tokens are scanned, and
    the scan stops at the first collection deeper than `MAX_DEPTH`.

    PyYAML's parser spends time quadratic in the nesting (33,000 `[`, 66 kB, took seconds
    before it failed), so the depth is checked before `yaml.safe_load`. libyaml's own nesting
    limit (1,000) is a refusal too. When libyaml refuses the text for another reason, PyYAML's
    scanner (which may read further) checks it again; its syntax errors are left to
    `yaml.safe_load` to report.
    """
    for scanner in _SCANNERS:
        try:
            return _TOO_DEEP if _deeper_than_limit(text, scanner) else None
        except yaml.YAMLError as error:
            if "nesting depth" in str(error):
                return _TOO_DEEP
    return None


def _deeper_than_limit(text: str, scanner: Any) -> bool:
    depth = 0
    for token in yaml.scan(text, Loader=scanner):
        if isinstance(token, _OPENS):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif isinstance(token, _CLOSES):
            depth -= 1
    return False


def _shape_problem(data: Any) -> str | None:
    """Why `data` is too big to be settings, else None. Walks iteratively and stops at the
    limits, so a deep `[[[…]]]` or a YAML 'billion laughs' (aliases expanded) costs little."""
    pending = [(data, 1)]
    seen = 0
    while pending:
        value, depth = pending.pop()
        seen += 1
        if seen > MAX_VALUES:
            return f"it holds more than {MAX_VALUES} values (YAML aliases repeating aliases?)"
        if depth > MAX_DEPTH:
            return f"it is nested more than {MAX_DEPTH} levels deep"
        if isinstance(value, Mapping):
            pending.extend((item, depth + 1) for item in (*value.keys(), *value.values()))
        elif isinstance(value, list | tuple):
            pending.extend((item, depth + 1) for item in value)
    return None


def read_dotenv(path: Path) -> dict[str, str]:
    """A `.env` file (`parse_dotenv`)."""
    return parse_dotenv(_read_text(path), path.name)


def parse_dotenv(text: str, name: str = ".env") -> dict[str, str]:
    """`KEY=VALUE` lines; `export ` prefix, `#` comments, single quotes (literal) and double
    quotes (with `\\n`, `\\t`, `\\"`, `\\\\` escapes) are understood. Later lines win.
    Problems name the file `name` and the line."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        text = text.removeprefix("export ").lstrip()
        key, equals, rest = text.partition("=")
        key = key.strip()
        if not equals or not key or any(char.isspace() for char in key):
            raise FileInvalid(
                ConfigurationProblem(
                    name, f"line {number}: expected KEY=VALUE, found {line.strip()[:40]!r}"
                )
            )
        try:
            values[key] = _dotenv_value(rest.strip())
        except ValueError as error:
            raise FileInvalid(ConfigurationProblem(name, f"line {number}: {error}")) from None
    return values


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def _dotenv_value(text: str) -> str:
    if text[:1] in ("'", '"'):
        quote = text[0]
        end = _closing_quote(text, quote)
        if end < 0:
            raise ValueError(f"unterminated {quote} quote")
        trailing = text[end + 1 :].strip()
        if trailing and not trailing.startswith("#"):
            raise ValueError(f"unexpected text after the closing quote: {trailing[:20]!r}")
        body = text[1:end]
        return body if quote == "'" else _unescape(body)
    comment = text.find(" #")
    return (text[:comment] if comment >= 0 else text).strip()


def _closing_quote(text: str, quote: str) -> int:
    index = 1
    while index < len(text):
        if quote == '"' and text[index] == "\\":
            index += 2
            continue
        if text[index] == quote:
            return index
        index += 1
    return -1


def _unescape(body: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            nxt = body[index + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)
