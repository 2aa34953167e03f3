"""One memory measurement in a fresh interpreter (so RSS is not blurred by earlier runs).

`python -m bench._memory_worker {ours|msal} {tracemalloc|rss} ENTRIES TOKEN_LENGTH` prints one
JSON object: bytes and blocks the cache grew by, and the time per insert.

The token strings are made before measuring and both caches keep references to them, so the
figures are each cache's own cost per entry, on top of the token itself.
"""

from __future__ import annotations

import gc
import json
import os
import secrets
import string
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable
from typing import Any

INSTANCE = "https://login.microsoftonline.com/"
TENANT = "10000000-0000-0000-0000-000000000001"
CLIENT_ID = "20000000-0000-0000-0000-000000000002"
ENDPOINT = f"{INSTANCE}{TENANT}/oauth2/v2.0/token"
LIFETIME = 3599.0
_ALPHABET = string.ascii_letters + string.digits + "-_"


def tokens(count: int, length: int) -> list[str]:
    head = "".join(secrets.choice(_ALPHABET) for _ in range(length))
    return [f"{i:08d}{head[8:]}" for i in range(count)]


def scopes(count: int) -> list[str]:
    return [f"api://{uuid.uuid4()}/.default" for _ in range(count)]


def ours(access_tokens: list[str], targets: list[str]) -> tuple[Any, Callable[[int], None]]:
    from identity_web.cache import CacheEntry, CacheKey, InMemoryTokenCache  # noqa: PLC0415

    cache = InMemoryTokenCache(max_entries=max(10_000, len(targets)))
    authority = f"{INSTANCE}{TENANT}"
    now = time.time()

    def insert(i: int) -> None:
        key = CacheKey(authority, CLIENT_ID, targets[i], "bearer")
        entry = CacheEntry(
            access_token=access_tokens[i],
            token_type="Bearer",
            expires_on=now + LIFETIME,
            refresh_on=now + LIFETIME / 2,
            token_endpoint=ENDPOINT,
            correlation_id=str(uuid.uuid4()),
        )
        cache.set(key, entry)

    return cache, insert


def msal_cache(access_tokens: list[str], targets: list[str]) -> tuple[Any, Callable[[int], None]]:
    import msal  # noqa: PLC0415

    cache = msal.TokenCache()

    def insert(i: int) -> None:
        cache.add(
            {
                "client_id": CLIENT_ID,
                "scope": [targets[i]],
                "token_endpoint": ENDPOINT,
                "environment": "login.microsoftonline.com",
                "grant_type": "client_credentials",
                "data": {},
                "response": {
                    "access_token": access_tokens[i],
                    "token_type": "Bearer",
                    "expires_in": int(LIFETIME),
                    "ext_expires_in": int(LIFETIME),
                    "refresh_in": int(LIFETIME / 2),
                },
            }
        )

    return cache, insert


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure(impl: str, mode: str, count: int, length: int) -> dict[str, Any]:
    access_tokens, targets = tokens(count, length), scopes(count)
    make = ours if impl == "ours" else msal_cache
    cache, insert = make(access_tokens, targets)
    insert(0)  # first-use work (imports, lazily built structures) is not per entry
    gc.collect()
    if mode == "tracemalloc":
        tracemalloc.start()
        before = tracemalloc.take_snapshot()
    rss_before = rss_bytes()
    started = time.perf_counter()
    for i in range(1, count):
        insert(i)
    seconds = time.perf_counter() - started
    gc.collect()
    result: dict[str, Any] = {"entries": count - 1, "insert_us": seconds / (count - 1) * 1e6}
    result["rss_bytes"] = rss_bytes() - rss_before
    if mode == "tracemalloc":
        diff = tracemalloc.take_snapshot().compare_to(before, "filename")
        tracemalloc.stop()
        result["bytes"] = sum(d.size_diff for d in diff)
        result["blocks"] = sum(d.count_diff for d in diff)
    del cache
    return result


if __name__ == "__main__":
    impl_name, mode_name, entries, token_length = sys.argv[1:5]
    print(json.dumps(measure(impl_name, mode_name, int(entries), int(token_length))))
