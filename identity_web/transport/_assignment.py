"""One connection per waiting request: the assignment pass our httpx clients' pools use.

httpcore 1.0 (the connection pool under httpx) runs an assignment pass on every request that
enters the pool and on every response that is closed. Its pass hands a newly idle HTTP/1.1
connection to *every* queued request, since handing it over does not change its state: all of
them wake, one gets it, and each of the others fails with `ConnectionNotAvailable`, goes back
to the queue and starts another pass. A pass also scans the connections once per queued
request and counts them once per idle connection. Under 100 asyncio callers that bookkeeping
is most of the client's CPU, and it grows with the number of connections the first burst
happened to open (16 connections: 1.0 ms of CPU per request; 25: 1.5 ms), so the same program
runs at two speeds from one process to the next. Known upstream: encode/httpcore#1035 (open),
fixed in the pydantic/httpx2 fork (#974, #1075). See docs/transport.md.

`assign` is the same pass without the herd: an idle connection goes to one waiting request,
and a connection a request holds (waiting to start on it, or running) is neither handed to
another nor closed under it. Everything else is httpcore's rule, in its order: closed
connections leave the pool; expired ones and idle ones above `max_keepalive_connections`
(oldest first) are closed; a waiting request takes the oldest idle connection to its origin,
else a new connection while the pool has room, else the room of an idle connection to another
origin. A connection no request holds that is neither idle nor closed was given to a request
that was cancelled or timed out before it started (HTTP/1.1 has no other such state): httpcore
keeps it, and its slot, forever (encode/httpcore#1093); this pass closes it.

A held connection is not probed again: if the server drops it in the moment between the pass
and its request's start, that request meets a dropped connection, as any request can meet one
dropped while it is sent (`HttpTransport` resends an idempotent request once). Probing them
costs a socket poll per held connection per pass: under 100 asyncio callers about half the
connections are held and not yet started at any pass, and the polls halved the throughput.

It is installed on the pools of the clients `HttpTransport` makes (`install`): httpcore 1.0's
own pool classes (and their proxy subclasses) for HTTP/1.1, which is every client of ours; any
other pool, and every pool of another httpcore release (the pass reads private state of 1.0's
pools and requests), keeps its own pass.
"""

from __future__ import annotations

import types
from typing import Any

import httpcore
import httpx

#: The httpcore releases whose pools and pool requests the pass was written and tested against.
RELEASES = ("1.0.",)
#: What the pass reads and writes on a pool; a pool without all of them keeps httpcore's pass.
_POOL_STATE = ("_connections", "_requests", "_max_connections", "_max_keepalive_connections")
#: httpcore's own passes, by pool class: a pool class that brings another one keeps it.
_HTTPCORE_PASSES: dict[type[Any], Any] = {
    httpcore.ConnectionPool: httpcore.ConnectionPool._assign_requests_to_connections,
    httpcore.AsyncConnectionPool: httpcore.AsyncConnectionPool._assign_requests_to_connections,
}


def install(client: httpx.Client | httpx.AsyncClient) -> int:
    """Give the pools of `client` (its transport and any proxy mounts) the one-request pass;
    how many pools got it (none under an httpcore release outside `RELEASES`)."""
    if not httpcore.__version__.startswith(RELEASES):
        return 0
    transports = [client._transport, *client._mounts.values()]
    installed = 0
    for transport in transports:
        inner = getattr(transport, "_inner", transport)  # our resolver seam wraps the transport
        pool: Any = getattr(inner, "_pool", None)
        base = next((kind for kind in _HTTPCORE_PASSES if isinstance(pool, kind)), None)
        if (
            base is None
            or type(pool)._assign_requests_to_connections is not _HTTPCORE_PASSES[base]
            or getattr(pool, "_http2", True)
            or not all(hasattr(pool, name) for name in _POOL_STATE)
        ):
            continue
        pool._assign_requests_to_connections = types.MethodType(assign, pool)
        installed += 1
    return installed


def assign(pool: Any) -> list[Any]:  # noqa: PLR0912 - one frame per pass: it runs twice a request
    """Assign waiting requests to connections; the connections to close (httpcore's contract:
    called under the pool's lock, the caller closes them outside it)."""
    held = set()
    for request in pool._requests:
        if request.connection is not None:
            held.add(id(request.connection))
    closing: list[Any] = []
    kept: list[Any] = []
    idle: list[Any] = []
    for connection in pool._connections:
        if connection.is_closed():
            continue
        if id(connection) in held:
            kept.append(connection)
        elif not connection.is_idle() or connection.has_expired():
            closing.append(connection)  # expired, or left by a request cancelled before it began
        else:
            kept.append(connection)
            idle.append(connection)
    surplus = len(idle) - pool._max_keepalive_connections
    if surplus > 0:
        closing += idle[:surplus]
        del idle[:surplus]
        kept = [connection for connection in kept if connection not in closing]

    for request in pool._requests:
        if request.connection is not None:
            continue
        origin = request.request.url.origin
        for index, connection in enumerate(idle):
            if connection.can_handle_request(origin) and connection.is_available():
                del idle[index]
                break
        else:
            if len(kept) >= pool._max_connections:
                if not idle:
                    break  # every connection is held: the next response frees one
                room = idle.pop(0)
                kept.remove(room)
                closing.append(room)
            connection = pool.create_connection(origin)
            kept.append(connection)
        request.assign_to_connection(connection)
    pool._connections[:] = kept
    return closing
