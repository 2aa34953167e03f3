"""The in-process level's `generation` changes with every write, so a header held from an entry
is given out again only while nothing was written since (issue 17: the held cache hit)."""

from __future__ import annotations

from cache_helpers import app_key, setup_for, token_entry
from redis_servers import RedisServer

from identity_web.cache import InMemoryTokenCache, in_process_level


def test_every_write_and_removal_changes_the_generation() -> None:
    cache = InMemoryTokenCache(max_entries=1)
    seen = [cache.generation]
    cache.set(app_key(), token_entry("a"))
    seen.append(cache.generation)
    cache.set(app_key(), token_entry("b"))  # the same key again
    seen.append(cache.generation)
    cache.set(app_key("tenant-b"), token_entry("c"))  # past max_entries: one is dropped
    seen.append(cache.generation)
    cache.remove(app_key("tenant-b"))
    seen.append(cache.generation)
    cache.clear()
    seen.append(cache.generation)
    assert len(set(seen)) == len(seen)
    generation = cache.generation
    assert cache.peek(app_key()) is None
    assert cache.get(app_key()) is None
    assert cache.generation == generation  # reads leave it alone


def test_the_in_process_level_is_the_memory_cache_or_the_redis_l1(
    redis_server: RedisServer,
) -> None:
    memory = InMemoryTokenCache()
    assert in_process_level(memory) is memory
    layered = setup_for(redis_server.url).cache
    level = in_process_level(layered)
    assert isinstance(level, InMemoryTokenCache)
    before = level.generation
    entry = token_entry()
    layered.set(app_key(), entry)
    assert level.generation != before
    assert layered.peek(app_key()) is entry
    assert in_process_level(setup_for(redis_server.url, DisableL1Cache=True).cache) is None
    assert in_process_level(object()) is None
