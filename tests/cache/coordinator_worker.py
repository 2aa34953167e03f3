"""One OS process of the cross-process single-flight tests (run by test_coordinator.py).

argv[1] is a JSON object: url, keys (tenant names), workers, mode ("threads", "asyncio" or
"die"), start (epoch seconds: every process begins at once), lock_ttl, max_wait, hold_for.
Each worker asks for every key through `hold`/`hold_async`; the "acquisition" is an INCR of
`acquisitions:<tenant>` (the token request the identity provider would count), a pause, and a
cache write. Prints one JSON object: how each worker got each token.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time
from typing import Any

import redis
from cache_helpers import app_key, setup_for, token_entry

from identity_web.cache import CacheEntry, DistributedTokenCache, LockPolicy, RedisCoordinator


def main() -> None:
    args: dict[str, Any] = json.loads(sys.argv[1])
    cache = setup_for(args["url"], DisableL1Cache=True).cache
    assert isinstance(cache, DistributedTokenCache)
    policy = LockPolicy(lock_ttl=args["lock_ttl"], max_wait=args["max_wait"], poll_interval=0.02)
    coordinator = RedisCoordinator(cache, policy)
    counter = redis.Redis.from_url(args["url"])
    outcomes: list[str] = []
    lock = threading.Lock()

    def acquire(tenant: str) -> CacheEntry:
        counter.incr(f"acquisitions:{tenant}")
        if args["mode"] == "die":
            os._exit(0)  # the holder dies mid-acquisition, lock held, nothing written
        time.sleep(args["hold_for"])
        entry = token_entry(f"token-{tenant}")
        cache.set(app_key(tenant), entry)
        return entry

    def record(tenant: str, how: str, entry: CacheEntry) -> None:
        assert entry.access_token == f"token-{tenant}"
        with lock:
            outcomes.append(how)

    def in_thread() -> None:
        for tenant in args["keys"]:
            with coordinator.hold(app_key(tenant)) as turn:
                if turn.entry is not None:
                    record(tenant, "shared", turn.entry)
                else:
                    record(tenant, "leader" if turn.leader else "own", acquire(tenant))

    async def in_task() -> None:
        for tenant in args["keys"]:
            async with coordinator.hold_async(app_key(tenant)) as turn:
                if turn.entry is not None:
                    record(tenant, "shared", turn.entry)
                else:
                    record(tenant, "leader" if turn.leader else "own", acquire(tenant))

    time.sleep(max(0.0, args["start"] - time.time()))
    if args["mode"] == "asyncio":

        async def all_tasks() -> None:
            await asyncio.gather(*(in_task() for _ in range(args["workers"])))

        asyncio.run(all_tasks())
    else:
        threads = [threading.Thread(target=in_thread) for _ in range(args["workers"])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    print(json.dumps({how: outcomes.count(how) for how in ("shared", "leader", "own")}))


if __name__ == "__main__":
    main()
