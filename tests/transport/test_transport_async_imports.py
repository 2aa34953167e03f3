"""An async request over the pooled client imports nothing: no module lookup runs per request.

httpcore asks for `sniffio` at each async lock and event it sets up (four per request); when the
package is missing (anyio 4.11 and later no longer bring it), Python searches every `sys.path`
entry for it on each request, about 100 µs of CPU. identity-web depends on `sniffio` for that.
"""

from __future__ import annotations

import sys
from typing import Any

from tls_test_server import TlsTestServer
from transport_pki import Pki

from identity_web.protocol import HttpRequest
from identity_web.transport import HttpTransport


class _Watcher:
    """A meta path finder that finds nothing and remembers what it was asked for."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        self.asked.append(name)


async def test_a_warm_async_request_looks_up_no_module(pki: Pki, tls_server: TlsTestServer) -> None:
    request = HttpRequest("GET", tls_server.url + "/", downstream=True, deadline=None)
    watcher = _Watcher()
    async with HttpTransport(ca_bundle=pki.ca_bundle) as transport:
        await transport.send_async(request)  # the pool, the connection, the first imports
        sys.meta_path.insert(0, watcher)
        try:
            for _ in range(3):
                assert (await transport.send_async(request)).status == 200
        finally:
            sys.meta_path.remove(watcher)
    assert watcher.asked == []
