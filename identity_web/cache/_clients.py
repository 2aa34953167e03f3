"""redis-py clients for a `RedisEndpoint`: one sync client, one asyncio client per event loop.

Every client fails fast: socket and connect timeouts bound each command and redis-py's own
retries are off (the cache treats a failed command as a miss and backs off itself). redis-py
is imported here and only here, and this module only when `TokenCache.Type` is Redis.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis
import redis.asyncio
import redis.asyncio.cluster
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.backoff
import redis.cluster
import redis.retry
import redis.sentinel

from identity_web.settings._cache import RedisEndpoint, Topology

logger = logging.getLogger(__name__)

#: What a failed Redis command raises: redis-py's errors (connection refused, timeout, READONLY,
#: authentication, cluster down, evicted scripts …) and the OS errors under them.
REDIS_ERRORS: tuple[type[BaseException], ...] = (redis.RedisError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True)
class ClientOptions:
    """Timeouts (seconds) and the CA file trusted for rediss:// (None: the system store)."""

    socket_timeout: float = 1.0
    connect_timeout: float = 1.0
    ca_file: str | None = None


def _connection_kwargs(endpoint: RedisEndpoint, options: ClientOptions) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "socket_timeout": options.socket_timeout,
        "socket_connect_timeout": options.connect_timeout,
        "username": endpoint.username,
        "password": endpoint.password,
    }
    if endpoint.tls:
        kwargs.update(ssl=True, ssl_ca_certs=options.ca_file, ssl_check_hostname=True)
    return kwargs


def sync_client(endpoint: RedisEndpoint, options: ClientOptions) -> Any:
    """A redis-py client (Redis, RedisCluster, or a Sentinel-managed master)."""
    kwargs = _connection_kwargs(endpoint, options)
    kwargs["retry"] = redis.retry.Retry(redis.backoff.NoBackoff(), 0)
    if endpoint.unix_path:
        return redis.Redis(unix_socket_path=endpoint.unix_path, **kwargs)
    if endpoint.topology is Topology.CLUSTER:
        nodes = [redis.cluster.ClusterNode(host, port) for host, port in endpoint.hosts]
        return redis.cluster.RedisCluster(startup_nodes=nodes, **kwargs)
    if endpoint.topology is Topology.SENTINEL:
        sentinel = redis.sentinel.Sentinel(
            list(endpoint.hosts), sentinel_kwargs=_sentinel_kwargs(kwargs), **kwargs
        )
        return sentinel.master_for(endpoint.service, db=endpoint.db)
    host, port = endpoint.hosts[0]
    return redis.Redis(host=host, port=port, db=endpoint.db, **kwargs)


def async_client(endpoint: RedisEndpoint, options: ClientOptions) -> Any:
    """The redis.asyncio twin of `sync_client` (same endpoint, same timeouts)."""
    kwargs = _connection_kwargs(endpoint, options)
    kwargs["retry"] = redis.asyncio.retry.Retry(redis.backoff.NoBackoff(), 0)
    if endpoint.unix_path:
        return redis.asyncio.Redis(unix_socket_path=endpoint.unix_path, **kwargs)
    if endpoint.topology is Topology.CLUSTER:
        nodes = [redis.asyncio.cluster.ClusterNode(host, port) for host, port in endpoint.hosts]
        return redis.asyncio.cluster.RedisCluster(startup_nodes=nodes, **kwargs)
    if endpoint.topology is Topology.SENTINEL:
        sentinel = redis.asyncio.sentinel.Sentinel(
            list(endpoint.hosts), sentinel_kwargs=_sentinel_kwargs(kwargs), **kwargs
        )
        return sentinel.master_for(endpoint.service, db=endpoint.db)
    host, port = endpoint.hosts[0]
    return redis.asyncio.Redis(host=host, port=port, db=endpoint.db, **kwargs)


def _sentinel_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Sentinels get the timeouts and TLS settings; the credentials are the master's."""
    return {key: value for key, value in kwargs.items() if key not in {"username", "password"}}


class RedisClients:
    """The sync client, made on first use, and one asyncio client per running loop."""

    def __init__(self, endpoint: RedisEndpoint, options: ClientOptions | None = None) -> None:
        self.endpoint = endpoint
        self._options = options or ClientOptions()
        self._sync: Any = None
        self._sync_lock = threading.Lock()
        self._async: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Any] = (
            weakref.WeakKeyDictionary()
        )

    def sync(self) -> Any:
        client = self._sync
        if client is None:
            with self._sync_lock:
                if self._sync is None:
                    self._sync = sync_client(self.endpoint, self._options)
                client = self._sync
        return client

    def for_running_loop(self) -> Any:
        """redis.asyncio connections belong to the loop that opened them: one client per loop."""
        loop = asyncio.get_running_loop()
        client = self._async.get(loop)
        if client is None:
            client = self._async[loop] = async_client(self.endpoint, self._options)
        return client

    async def aclose(self) -> None:
        """`close()` from a coroutine: the running loop's asyncio client is closed before this
        returns (a loop about to end, as under `asyncio.run`, would drop it half closed)."""
        client = self._async.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await _awaited(functools.partial(_aclose, client))
        self.close()

    def close(self) -> None:
        """Close the sync client, and each asyncio client on the loop it belongs to."""
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        clients = list(self._async.items())
        self._async.clear()
        for loop, client in clients:
            _close_on(loop, functools.partial(_aclose, client))


def _close_on(loop: asyncio.AbstractEventLoop, aclose: Callable[[], Awaitable[Any]]) -> None:
    """Run `aclose()` on `loop`: as a task when it runs here, scheduled when it runs in another
    thread, to completion when it is idle. A closed loop left nothing to close with."""
    try:
        running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if loop.is_closed():
        logger.debug("dropping a Redis asyncio client whose event loop is closed")
    elif running is loop:
        _CLOSING.add(task := loop.create_task(_awaited(aclose)))
        task.add_done_callback(_CLOSING.discard)
    elif loop.is_running():
        asyncio.run_coroutine_threadsafe(_awaited(aclose), loop)
    elif running is None:
        loop.run_until_complete(_awaited(aclose))


_CLOSING: set[asyncio.Task[None]] = set()  # closing tasks, kept until done


async def _aclose(client: Any) -> None:
    """Close a redis.asyncio client, and for Sentinel the clients of the sentinels it asked."""
    await client.aclose()
    manager = getattr(getattr(client, "connection_pool", None), "sentinel_manager", None)
    for sentinel in getattr(manager, "sentinels", ()):
        await sentinel.aclose()


async def _awaited(aclose: Callable[[], Awaitable[Any]]) -> None:
    await aclose()
