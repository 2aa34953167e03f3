"""Keys, entries and cache builders shared by the cache tests."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

from cryptography.hazmat.primitives.asymmetric import ec

from identity_web.cache import CacheEntry, CacheKey, build_token_cache
from identity_web.cache._setup import CacheSetup
from identity_web.emulator._pki import CertificateAuthority, name
from identity_web.protocol import BindingCertificate, TokenType
from identity_web.settings import IdentityWebSettings

T = TypeVar("T")


def setup_for(
    url: str, *, ca_file: str | None = None, environ: dict[str, str] | None = None, **section: Any
) -> CacheSetup:
    """The cache and coordinator a `TokenCache` section with `url` builds."""
    settings = IdentityWebSettings.from_mapping(
        {"TokenCache": {"Type": "Redis", "ConnectionString": url, **section}}
    )
    return build_token_cache(settings.token_cache, environ=environ or {}, ca_file=ca_file)


def app_key(
    tenant: str = "tenant-a", *, bound: bool = False, binding: str = "", scope: str = "api://r"
) -> CacheKey:
    return CacheKey(
        authority=f"https://login.example/{tenant}",
        client_id="client-1",
        scope=f"{scope}/.default",
        token_type=TokenType.of(bound),
        binding=binding,
    )


def token_entry(
    token: str = "token-1", *, life: float = 3600.0, bound: bool = False, now: float | None = None
) -> CacheEntry:
    start = time.time() if now is None else now
    return CacheEntry(
        access_token=token,
        token_type=TokenType.of(bound),
        expires_on=start + life,
        refresh_on=start + life / 2,
        token_endpoint="https://login.example/t/oauth2/v2.0/token",
    )


@functools.cache
def _authority() -> CertificateAuthority:
    return CertificateAuthority.create("cache test CA", days=1)


def certificate(common_name: str = "app") -> BindingCertificate:
    """A client certificate with its key (EC P-256: quick to make); a new thumbprint each call."""
    key = ec.generate_private_key(ec.SECP256R1())
    issued = _authority().issue(key.public_key(), name(common_name), days=2)
    return BindingCertificate.create(issued, key)


async def ticking(work: Awaitable[T]) -> tuple[T, int, float]:
    """`work`'s result, how many 10 ms ticks the loop ran meanwhile, and the seconds it took."""
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    started = time.perf_counter()
    result = await work
    elapsed = time.perf_counter() - started
    task.cancel()
    return result, ticks, elapsed


def run_closing(cache: Any, work: Awaitable[T]) -> T:
    """`asyncio.run(work)`, the cache's Redis client of that loop closed before the loop ends
    (the leak check fails a test that leaves one behind)."""

    async def closing() -> T:
        try:
            return await work
        finally:
            await cache.aclose()

    return asyncio.run(closing())
