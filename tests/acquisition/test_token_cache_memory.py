"""InMemoryTokenCache and CacheKey."""

from __future__ import annotations

from identity_web.cache import CacheEntry, CacheKey, InMemoryTokenCache, variant_digest


def key(scope: str = "api://r/.default", **overrides: str) -> CacheKey:
    values = {
        "authority": "https://login/t",
        "client_id": "c",
        "scope": scope,
        "token_type": "bearer",
    }
    values.update(overrides)
    return CacheKey(**values)


def entry(expires_on: float = 2_000_000_000.0) -> CacheEntry:
    return CacheEntry(access_token="secret-token", token_type="Bearer", expires_on=expires_on)


def test_keys_differ_by_token_type_and_binding() -> None:
    assert key() == key()
    assert key() != key(token_type="mtls_pop")
    assert key(token_type="mtls_pop", binding="a") != key(token_type="mtls_pop", binding="b")
    assert len({key(), key(), key(token_type="mtls_pop")}) == 2


def test_get_set_remove() -> None:
    cache = InMemoryTokenCache()
    assert cache.get(key()) is None
    cache.set(key(), entry())
    assert cache.get(key()) == entry()
    cache.remove(key())
    assert cache.get(key()) is None
    cache.remove(key())


def test_size_is_bounded_expired_first_then_oldest_written() -> None:
    now = 1_000.0
    cache = InMemoryTokenCache(max_entries=3, clock=lambda: now)
    cache.set(key("a"), entry())
    cache.set(key("expired"), entry(expires_on=500.0))
    cache.set(key("b"), entry())
    cache.set(key("c"), entry())
    assert len(cache) == 3
    assert cache.get(key("expired")) is None
    cache.set(key("a"), entry())  # rewritten: now the newest
    cache.set(key("d"), entry())
    assert cache.get(key("b")) is None
    assert all(cache.get(key(name)) is not None for name in "acd")


def test_entry_repr_hides_the_token_and_variant_digest_is_order_free() -> None:
    assert "secret-token" not in repr(entry())
    assert variant_digest([("a", "1"), ("b", "2")]) == variant_digest([("b", "2"), ("a", "1")])
    assert variant_digest([]) == ""
    assert key().as_string() == '["https://login/t","c","api://r/.default","bearer","","",false]'
    # Unambiguous: a separator inside one field cannot forge another key.
    assert key(scope="a|bearer").as_string() != key(scope="a", token_type="|bearer").as_string()
