"""`RedisStore`: the L2 level. Each operation is written once, as a generator of Redis commands.

An operation yields a command (`("GET", name)`) and receives redis-py's reply, or yields a
`Pause` and is resumed after it; `run` drives it with the sync client, `run_async` with the
asyncio client of the running loop. So the sync and async paths share every decision (key names,
encoding, TTLs, the lock protocol) and differ only in who sends.

Failures never escape: a command that raises (refused, timed out, READONLY, wrong password,
cluster down …) makes the operation return its fallback, the failure is logged at most once per
`log_interval`, and Redis is left alone for `cooldown` seconds, so an outage costs callers at
most one timeout per cooldown, not one per call. The first success after a failure is logged.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from identity_web.cache._base import CacheEntry, CacheKey
from identity_web.cache._clients import REDIS_ERRORS, RedisClients
from identity_web.cache._codec import EntryCodec, UnreadableEntry

if TYPE_CHECKING:
    from identity_web.cache._coordinator import LockPolicy

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Release a lock only if it still holds our token (compare-and-delete, one atomic script).
RELEASE_SCRIPT = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) "
    "else return 0 end"
)


@dataclass(frozen=True, slots=True)
class Pause:
    seconds: float


Command = tuple[str | bytes | int | float, ...]
Op = Generator[Command | Pause, Any, T]


class Health:
    """Backs off after a failure and logs failures at most once per interval."""

    def __init__(
        self, clock: Callable[[], float], *, cooldown: float = 2.0, log_interval: float = 60.0
    ) -> None:
        self._clock = clock
        self._cooldown = cooldown
        self._log_interval = log_interval
        self._retry_at = 0.0
        self._next_log = 0.0
        self._failing = False
        self._lock = threading.Lock()

    def available(self) -> bool:
        return self._clock() >= self._retry_at

    def failed(self, what: str, error: BaseException, where: str) -> None:
        now = self._clock()
        with self._lock:
            self._failing = True
            self._retry_at = now + self._cooldown
            if now < self._next_log:
                return
            self._next_log = now + self._log_interval
        logger.warning(
            "Redis token cache %s at %s failed (%s: %s); serving from memory and the identity "
            "provider, retrying Redis in %.0f s (next such message in %.0f s at the earliest)",
            what,
            where,
            type(error).__name__,
            str(error)[:200],
            self._cooldown,
            self._log_interval,
        )

    def succeeded(self, where: str) -> None:
        if self._failing:
            with self._lock:
                was, self._failing, self._next_log = self._failing, False, 0.0
            if was:
                logger.warning("Redis token cache at %s answers again", where)


class RedisStore:
    """Entries under `{prefix}:v1:{<digest>}`, locks under the same name + `:lock`."""

    def __init__(
        self,
        clients: RedisClients,
        codec: EntryCodec,
        *,
        prefix: str = "identity-web",
        clock: Callable[[], float] = time.time,
        health: Health | None = None,
    ) -> None:
        self._clients = clients
        self._codec = codec
        self._prefix = prefix
        self._clock = clock
        self._health = health or Health(time.monotonic)
        self._where = clients.endpoint.redacted()
        self._unreadable: set[str] = set()

    def name(self, key: CacheKey) -> str:
        """The Redis key of an entry; the braces make its lock land on the same cluster slot."""
        digest = hashlib.sha256(key.as_string().encode()).hexdigest()[:40]
        return f"{self._prefix}:v1:{{{digest}}}"

    # -- operations -------------------------------------------------------------------

    def get_op(self, key: CacheKey) -> Op[CacheEntry | None]:
        name = self.name(key)
        return self._read(name, key, (yield ("GET", name)))

    def set_op(self, key: CacheKey, entry: CacheEntry) -> Op[None]:
        name = self.name(key)
        data = self._codec.encode(name, key, entry)
        ttl_ms = int((entry.expires_on - self._clock()) * 1000)
        if data is not None and ttl_ms > 0:
            yield ("SET", name, data, "PX", ttl_ms)

    def remove_op(self, key: CacheKey) -> Op[None]:
        yield ("DEL", self.name(key))

    def lock_op(
        self, key: CacheKey, token: str, wanted: Callable[[CacheEntry], bool], policy: LockPolicy
    ) -> Op[tuple[bool, CacheEntry | None]]:
        """(holds the lock, an entry `wanted` accepts): the lock, or the holder's entry, or
        neither after `policy.max_wait`. A lock whose holder died expires after `lock_ttl` and
        the next look takes it over."""
        name = self.name(key)
        lock = f"{name}:lock"
        ttl_ms = int(policy.lock_ttl * 1000)
        for _ in range(policy.polls):
            held = bool((yield ("SET", lock, token, "NX", "PX", ttl_ms)))
            entry = self._read(name, key, (yield ("GET", name)))
            found = entry if entry is not None and wanted(entry) else None
            if held and found is not None:
                yield from self.unlock_op(key, token)
                return False, found
            if held or found is not None:
                return held, found
            yield Pause(policy.poll_interval)
        return False, None

    def unlock_op(self, key: CacheKey, token: str) -> Op[None]:
        yield ("EVAL", RELEASE_SCRIPT, 1, f"{self.name(key)}:lock", token)

    # -- drivers ------------------------------------------------------------------------

    def run(self, op: Op[T], fallback: T, what: str) -> T:
        """Drive `op` with the sync client; `fallback` when Redis fails or is cooling down."""
        if not self._ready(op):
            return fallback
        try:
            client = self._clients.sync()
            step = op.send(None)
            while True:
                if isinstance(step, Pause):
                    time.sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(client.execute_command(*step))
        except StopIteration as done:
            return cast("T", self._done(done))
        except REDIS_ERRORS as error:
            return self._failed(op, error, what, fallback)

    async def run_async(self, op: Op[T], fallback: T, what: str) -> T:
        """Drive `op` with the running loop's asyncio client; never blocks the loop."""
        if not self._ready(op):
            return fallback
        try:
            client = self._clients.for_running_loop()
            step = op.send(None)
            while True:
                if isinstance(step, Pause):
                    await asyncio.sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(await client.execute_command(*step))
        except StopIteration as done:
            return cast("T", self._done(done))
        except REDIS_ERRORS as error:
            return self._failed(op, error, what, fallback)

    def _ready(self, op: Op[Any]) -> bool:
        if self._health.available():
            return True
        op.close()
        return False

    def _done(self, done: StopIteration) -> Any:
        self._health.succeeded(self._where)
        return done.value

    def _failed(self, op: Op[Any], error: BaseException, what: str, fallback: T) -> T:
        op.close()
        self._health.failed(what, error, self._where)
        return fallback

    def close(self) -> None:
        self._clients.close()

    async def aclose(self) -> None:
        await self._clients.aclose()

    # -- decoding -----------------------------------------------------------------------

    def _read(self, name: str, key: CacheKey, raw: Any) -> CacheEntry | None:
        """A miss for nothing stored and for anything unreadable (logged once per key)."""
        if raw is None:
            return None
        try:
            return self._codec.decode(name, key, bytes(raw))
        except UnreadableEntry as unreadable:
            if name not in self._unreadable:
                if len(self._unreadable) > 10_000:
                    self._unreadable.clear()
                self._unreadable.add(name)
                logger.warning(
                    "ignoring the Redis token cache entry %s: %s", name, unreadable.reason
                )
            return None
