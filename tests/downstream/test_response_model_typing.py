"""mypy users get the model type back from `response_model=` (the overloads), and `Any` or a
`DownstreamResponse` without it: mypy --strict checks `assert_type` lines in a snippet."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SNIPPET = """
from typing import Any, assert_type

from pydantic import BaseModel

from identity_web import DownstreamApi, DownstreamResponse


class Item(BaseModel):
    name: str


async def use(api: DownstreamApi) -> None:
    assert_type(api.get("A", response_model=Item), Item)
    assert_type(api.delete("A"), Any)
    assert_type(await api.post_async("A", json={}, response_model=list[Item]), list[Item])
    assert_type(api.request("GET", "A"), DownstreamResponse)
    assert_type(api.request("GET", "A", response_model=Item), Item)
    assert_type(await api.request_async(None, "A", response_model=Item), Item)
    assert_type(await api.request_async(None, "A"), DownstreamResponse)
"""


def test_the_overloads_give_the_model_type(tmp_path: Path) -> None:
    snippet = tmp_path / "uses_response_model.py"
    snippet.write_text(SNIPPET, encoding="utf-8")
    checked = subprocess.run(  # noqa: S603 - the test interpreter's mypy on a fixed snippet
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(snippet)],
        cwd=ROOT,  # the project's mypy cache, already warm from `./run test`'s own mypy run
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
