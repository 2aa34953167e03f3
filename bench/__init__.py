"""Side-by-side benchmarks: identity-web against MSAL Python, azure-identity and raw httpx.

Every benchmark runs ours and the peers in one process, against one in-process emulator over
real TLS on 127.0.0.1, and reports ratios. `python -m bench --help`; docs/performance.md has
the figures and how the cache-hit path is designed.
"""

from bench._cli import BENCHMARKS, main

__all__ = ["BENCHMARKS", "main"]
