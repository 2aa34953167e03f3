"""The transport: TLS contexts, pooled httpx clients, and the drivers that run sans-IO flows.

`HttpTransport.run(step)` / `await HttpTransport.run_async(step)` perform what a step yields
(`SyncDriver`, `AsyncDriver`; `Drivers` pairs them over any sender, e.g. a test's);
`send(request)` sends one request with its retry policy; `client_for(binding)` gives the pooled
client that presents a binding certificate; `ssl_context_for(binding)` the TLS context it uses.
"""

from __future__ import annotations

from identity_web.transport._connect_to import CONNECT_TO_VARIABLE, ConnectTo
from identity_web.transport._driver import AsyncDriver, Drivers, SyncDriver
from identity_web.transport._pinning import normalize_thumbprint
from identity_web.transport._pool import ClientPool
from identity_web.transport._ssl import SslContextCache, memfd_available, ssl_context_for
from identity_web.transport._transport import (
    DEFAULT_LIMITS,
    DEFAULT_TIMEOUT,
    DEFAULT_USER_AGENT,
    ClientKey,
    HttpTransport,
)

__all__ = [
    "CONNECT_TO_VARIABLE",
    "DEFAULT_LIMITS",
    "DEFAULT_TIMEOUT",
    "DEFAULT_USER_AGENT",
    "AsyncDriver",
    "ClientKey",
    "ClientPool",
    "ConnectTo",
    "Drivers",
    "HttpTransport",
    "SslContextCache",
    "SyncDriver",
    "memfd_available",
    "normalize_thumbprint",
    "ssl_context_for",
]
