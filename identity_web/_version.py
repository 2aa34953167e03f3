"""`identity_web.__version__`: the installed distribution's version, from its metadata.

Read on first access of `identity_web.__version__` (importlib.metadata is not free, and the
package root must stay cheap to import).
"""

from __future__ import annotations

from importlib import metadata

try:
    __version__ = metadata.version("identity-web")
except metadata.PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"
