"""Cache keys, cache entries and the `TokenCache` protocol every cache implements."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from identity_web.protocol._binding import BindingCertificate
from identity_web.protocol._tokens import TokenType
from identity_web.protocol.expiry import TOKEN_MARGIN
from identity_web.protocol.steps import Blocking

#: A token is not handed out when it expires within this many seconds (`protocol.expiry`).
EXPIRY_MARGIN = TOKEN_MARGIN


@dataclass(frozen=True, slots=True)
class CacheKey:
    """Where one app token lives. Immutable and hashable; building one is cheap.

    `token_type` is a `TokenType` (`Bearer`, `mtls_pop`), so Bearer and bound tokens never
    mix; `binding` is the `x5t#S256` of the binding certificate when it is known before the
    request (a certificate credential), so a renewed certificate misses. `credential_bound`
    is true when the credential itself was presented over mTLS (a Bearer token obtained with
    a bound credential). `variant` is a short digest of request options that change the
    token (extra query parameters), or "".
    """

    authority: str
    client_id: str
    scope: str
    token_type: TokenType
    binding: str = ""
    variant: str = ""
    credential_bound: bool = False

    def as_string(self) -> str:
        """A flat, stable, unambiguous text form (a JSON array; the distributed cache's key)."""
        return json.dumps(
            [
                self.authority,
                self.client_id,
                self.scope,
                self.token_type,
                self.binding,
                self.variant,
                self.credential_bound,
            ],
            separators=(",", ":"),
        )

    @property
    def shareable(self) -> bool:
        """May a token under this key be served to another process? Not when it is bound to a
        key only this process holds: an mTLS PoP key without a thumbprint is bound to a
        certificate the flow chose (IMDS v2, FIC leg 1), which never leaves this process."""
        return self.token_type is not TokenType.MTLS_POP or bool(self.binding)


def variant_digest(pairs: Iterable[tuple[str, str]]) -> str:
    """A short stable digest of name/value pairs, "" when there are none."""
    items = sorted(pairs)
    if not items:
        return ""
    text = "&".join(f"{name}={value}" for name, value in items)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CacheEntry:
    """A cached token. The token is never in the repr.

    `binding_certificate` is kept only by in-process caches, for bound tokens whose certificate
    was chosen by the flow (managed identity, FIC); a distributed cache stores everything else.
    """

    access_token: str = field(repr=False)
    token_type: str
    expires_on: float
    refresh_on: float | None = None
    token_endpoint: str = ""
    correlation_id: str = ""
    binding_certificate: BindingCertificate | None = None

    def wants_refresh(self, now: float) -> bool:
        return self.refresh_on is not None and now >= self.refresh_on

    def usable(self, now: float) -> bool:
        """Not within `EXPIRY_MARGIN` of expiry."""
        return now < self.expires_on - EXPIRY_MARGIN


class TokenCache(Protocol):
    """Where app tokens are kept; every method is safe to call from any thread.

    `peek` never does I/O (the in-process level only: the cache-hit path of sync and async
    callers). `get`/`set`/`remove` may wait on a distributed level (bounded by its timeouts);
    the `_async` methods never block the event loop. No method raises for a cache failure: a
    level that cannot answer is a miss.
    """

    def peek(self, key: CacheKey) -> CacheEntry | None: ...

    def get(self, key: CacheKey) -> CacheEntry | None: ...

    async def get_async(self, key: CacheKey) -> CacheEntry | None: ...

    def set(self, key: CacheKey, entry: CacheEntry) -> None: ...

    async def set_async(self, key: CacheKey, entry: CacheEntry) -> None: ...

    def remove(self, key: CacheKey) -> None: ...

    async def remove_async(self, key: CacheKey) -> None: ...


@dataclass(frozen=True, slots=True)
class StoreToken(Blocking):
    """Effect: `cache.set(key, entry)` (a write may take a lock or, later, the network)."""

    cache: TokenCache = field(repr=False)
    key: CacheKey
    entry: CacheEntry

    def run(self) -> None:
        self.cache.set(self.key, self.entry)
