"""The emulator's temporary state directory, and the clean-up of those that emulators left behind.

The state directory holds the CA bundles and the demo app's certificate files, key included
(clients load them from there: `SourceType: Path`), so it cannot live in memory. It is removed
when the emulator stops, and when the interpreter exits with the emulator still running. An
emulator killed outright (SIGKILL, a crash) cannot do either; so each directory holds
`emulator.pid` ("<pid> <process start time>"), and every emulator that creates a directory
first removes the directories of emulators that are gone: pid not running, or running with
another start time (the pid was reused). Only directories of the current user are touched.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

PREFIX = "identity-web-emulator-"
PID_FILE = "emulator.pid"


def create_work_dir() -> Path:
    """A new private state directory, marked with this process; stale ones are removed first."""
    parent = Path(tempfile.gettempdir())
    remove_stale_work_dirs(parent)
    directory = Path(tempfile.mkdtemp(prefix=PREFIX, dir=parent))
    (directory / PID_FILE).write_text(owner_tag(os.getpid()), encoding="ascii")
    return directory


def owner_tag(pid: int) -> str:
    return f"{pid} {_start_time(pid)}".strip()


def _start_time(pid: int) -> str:
    """The process start time in clock ticks since boot (Linux), or "" where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    except OSError:
        return ""
    # Field 22 counts from the one after the command name, which is in parentheses.
    fields = stat[stat.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else ""


def _owner_alive(tag: str) -> bool:
    pid_text, _, started = tag.partition(" ")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # a process of another user: alive
    return not started or _start_time(pid) in ("", started)


def remove_stale_work_dirs(parent: Path) -> list[Path]:
    """Remove this user's emulator state directories whose process is gone; return them."""
    removed = []
    for directory in parent.glob(f"{PREFIX}*"):
        try:
            if directory.is_symlink() or directory.stat().st_uid != os.getuid():
                continue
            tag = (directory / PID_FILE).read_text(encoding="ascii").strip()
        except OSError:
            continue  # not a directory of ours, or one being created right now
        if _owner_alive(tag):
            continue
        with contextlib.suppress(OSError):
            shutil.rmtree(directory)
            removed.append(directory)
            logger.info("removed the state directory of a stopped emulator: %s", directory)
    return removed
