"""Side-by-side benchmarks: identity-web against MSAL Python, azure-identity and raw httpx.

Every benchmark runs ours and the peers in one process, against one in-process emulator over
real TLS on 127.0.0.1, and reports ratios. `python -m bench --help` (or `./run bench --help`);
the entry point is `bench._cli.main`. docs/performance.md has the figures and explains how the
cache-hit path is designed. Kept import-free so `bench._memory_worker` starts clean.
"""
