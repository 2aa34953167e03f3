"""No key files left behind: the state directory goes on stop, at exit, and, after SIGKILL, when
the next emulator starts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import emulator_testkit as kit

from identity_web.emulator._workdir import (
    PID_FILE,
    PREFIX,
    owner_tag,
    remove_stale_work_dirs,
)


def _environment(tmp: Path) -> dict[str, str]:
    return {**os.environ, "TMPDIR": str(tmp)}


def _start(tmp: Path, name: str) -> tuple[subprocess.Popen[bytes], Path]:
    """`identity-web emulator` with its temporary files under `tmp`; returns its state dir."""
    manifest = tmp / f"{name}.json"
    process = kit.start_process(manifest, "--manifest", str(manifest), env=_environment(tmp))
    state_dir = Path(json.loads(manifest.read_text())["ca_bundle"]).parent
    return process, state_dir


def _state_dirs(tmp: Path) -> set[Path]:
    return {path.resolve() for path in tmp.glob(f"{PREFIX}*")}


def test_a_sigkilled_emulators_key_files_go_when_the_next_one_starts(tmp_path: Path) -> None:
    first, stale = _start(tmp_path, "first")
    assert (stale / "app.pem").exists()
    assert (stale / PID_FILE).read_text() == owner_tag(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert (stale / "app.pem").exists()  # nothing could clean up after SIGKILL
    second, fresh = _start(tmp_path, "second")
    try:
        assert not stale.exists()
        assert _state_dirs(tmp_path) == {fresh.resolve()}
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
    assert not fresh.exists()  # a normal stop removes its own directory


def test_an_emulator_left_running_at_interpreter_exit_removes_its_directory(
    tmp_path: Path,
) -> None:
    script = (
        "from identity_web.emulator import Emulator\n"
        "emulator = Emulator(); emulator.start()\n"
        "print(emulator.manifest.ca_bundle)\n"
    )
    result = subprocess.run(  # noqa: S603 - the test interpreter, fixed arguments
        [sys.executable, "-c", script],
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    state_dir = Path(result.stdout.strip()).parent
    assert state_dir.parent.resolve() == tmp_path.resolve()
    assert not state_dir.exists()


def _state_dir(parent: Path, name: str, tag: str | None) -> Path:
    directory = parent / f"{PREFIX}{name}"
    directory.mkdir()
    (directory / "app.pem").write_text("key")
    if tag is not None:
        (directory / PID_FILE).write_text(tag)
    return directory


def test_only_directories_of_gone_processes_are_removed(tmp_path: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead_tag = owner_tag(dead.pid)
    dead.wait(timeout=10)
    live = _state_dir(tmp_path, "live", owner_tag(os.getpid()))
    gone = _state_dir(tmp_path, "gone", dead_tag)
    reused = _state_dir(tmp_path, "reused", f"{os.getpid()} 1")  # our pid, another start time
    unmarked = _state_dir(tmp_path, "unmarked", None)  # not ours, or being created
    garbage = _state_dir(tmp_path, "garbage", "not a pid")
    removed = remove_stale_work_dirs(tmp_path)
    assert set(removed) == {gone, reused, garbage}
    assert live.exists()
    assert unmarked.exists()
    assert not gone.exists()
