"""`identity-web --version` prints the installed distribution's version and exits 0."""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata


def test_version_option_prints_the_distribution_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "identity_web", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"identity-web {metadata.version('identity-web')}\n"
