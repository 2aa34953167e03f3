"""The JSONC stripper and the dotenv reader."""

from __future__ import annotations

from pathlib import Path

import pytest

from identity_web.settings._files import FileInvalid, read_dotenv
from identity_web.settings._jsonc import JsoncError, loads, strip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, // one\n"b": 2}', {"a": 1, "b": 2}),
        ('{"a": /* x */ 1}', {"a": 1}),
        ('{"url": "https://x//y", "c": "/* not */"}', {"url": "https://x//y", "c": "/* not */"}),
        ('{"q": "say \\"//hi\\"",}', {"q": 'say "//hi"'}),
        ('{"l": [1, 2, ], "o": {"k": 1 , } , }', {"l": [1, 2], "o": {"k": 1}}),
        ('{"s": "a,}"}', {"s": "a,}"}),
        ("\ufeff{}", {}),
    ],
)
def test_jsonc(text: str, expected: object) -> None:
    assert loads(text) == expected


def test_stripping_keeps_positions() -> None:
    text = '{\n  /* a\n b */ "x": 1, // c\n}'
    stripped = strip(text)
    assert len(stripped) == len(text)
    assert stripped.count("\n") == text.count("\n")


def test_jsonc_error_position() -> None:
    with pytest.raises(JsoncError) as caught:
        loads('{\n  // fine\n  "a": tru\n}')
    assert (caught.value.line, caught.value.column) == (3, 8)


def test_dotenv(tmp_path: Path) -> None:
    path = tmp_path / ".env"
    path.write_text(
        "# comment\n\n"
        "PLAIN=value # trailing comment\n"
        "export EXPORTED=1\n"
        "SINGLE='a \\n b # kept'\n"
        'DOUBLE="line1\\nline2 \\"q\\""\n'
        "EMPTY=\n"
        "SPACED = x y \n"
        "HASH=a#b\n",
        encoding="utf-8",
    )
    assert read_dotenv(path) == {
        "PLAIN": "value",
        "EXPORTED": "1",
        "SINGLE": "a \\n b # kept",
        "DOUBLE": 'line1\nline2 "q"',
        "EMPTY": "",
        "SPACED": "x y",
        "HASH": "a#b",
    }


@pytest.mark.parametrize("line", ["NOEQUALS", "BAD KEY=1", 'OPEN="never closed', "Q='a' b"])
def test_dotenv_errors_name_the_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / ".env"
    path.write_text(f"OK=1\n{line}\n", encoding="utf-8")
    with pytest.raises(FileInvalid) as caught:
        read_dotenv(path)
    assert caught.value.problem.path == ".env"
    assert caught.value.problem.message.startswith("line 2:")
