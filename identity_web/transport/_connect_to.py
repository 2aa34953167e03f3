"""The resolver seam: connect `host:port` to another address, as curl's `--connect-to` does.

`ConnectTo` maps a production name (`login.microsoftonline.com:443`, `169.254.169.254:80`, or a
wildcard `*.mtlsauth.microsoft.com:443`) to the address that stands for it, usually a loopback
port of the local emulator. Only the TCP destination changes: the request keeps its URL (so
logs, errors, assertion audiences and the token endpoint a result names are the production
ones), its `Host` header, and its TLS server name, so the server certificate is verified
against the production name with the configured trust roots. Verification is never switched
off here.

It is set in code (`HttpTransport(connect_to=...)`) or by the `IDENTITY_WEB_CONNECT_TO`
environment variable, which the emulator writes in its env file:
`login.microsoftonline.com:443=127.0.0.1:38411,*.mtlsauth.microsoft.com:443=127.0.0.1:38412`.
Every httpx client the package makes goes through `RoutedTransport` / `AsyncRoutedTransport`,
which send the rerouted request with httpx's public `sni_hostname` extension. A connection is
pooled by the address it was opened to, so two names routed to one port may share one.
"""

from __future__ import annotations

import ssl
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import httpx

from identity_web._errors import ConfigurationError, ConfigurationProblem

CONNECT_TO_VARIABLE = "IDENTITY_WEB_CONNECT_TO"

Address = tuple[str, int]
_DEFAULT_PORTS = {"https": 443, "http": 80}


@dataclass(frozen=True, slots=True)
class ConnectTo:
    """Routes by `host:port` (exact names, then `*.suffix` wildcards, longest first)."""

    routes: Mapping[Address, Address] = field(default_factory=lambda: MappingProxyType({}))
    wildcards: Mapping[Address, Address] = field(default_factory=lambda: MappingProxyType({}))

    def __bool__(self) -> bool:
        return bool(self.routes or self.wildcards)

    @classmethod
    def parse(cls, text: str, *, where: str = CONNECT_TO_VARIABLE) -> ConnectTo:
        """`host:port=address:port` pairs, comma-separated; a host may be `*.suffix`."""
        routes: dict[Address, Address] = {}
        wildcards: dict[Address, Address] = {}
        for entry in filter(None, (part.strip() for part in text.split(","))):
            source, separator, target = entry.partition("=")
            if not separator:
                raise _bad(where, entry, "an entry must read host:port=address:port")
            host, port = _address(source, where, entry)
            table = wildcards if host.startswith("*.") else routes
            table[(host.removeprefix("*."), port)] = _address(target, where, entry)
        return cls(MappingProxyType(routes), MappingProxyType(wildcards))

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ConnectTo:
        return cls.parse(environ.get(CONNECT_TO_VARIABLE, ""))

    @classmethod
    def of(cls, routes: Mapping[str, str], wildcards: Mapping[str, str] | None = None) -> ConnectTo:
        """From the emulator manifest's `resolve` and `resolve_wildcards` maps."""
        pairs = [*routes.items(), *(wildcards or {}).items()]
        return cls.parse(",".join(f"{source}={target}" for source, target in pairs))

    def target(self, host: str, port: int) -> Address | None:
        """Where to connect for `host:port`, or None to connect to it directly."""
        host = host.lower().rstrip(".")
        exact = self.routes.get((host, port))
        if exact is not None:
            return exact
        longest: tuple[int, Address] | None = None
        for (suffix, wildcard_port), address in self.wildcards.items():
            if wildcard_port == port and host.endswith("." + suffix):
                longest = max(longest or (0, address), (len(suffix), address))
        return longest[1] if longest else None

    def routed(self, request: httpx.Request) -> httpx.Request:
        """`request` itself, or a copy sent to the routed address under the same names."""
        url = request.url
        if not (self.routes or self.wildcards):
            return request
        port = url.port or _DEFAULT_PORTS.get(url.scheme, 0)
        address = self.target(url.host, port)
        if address is None:
            return request
        extensions = dict(request.extensions)
        if url.scheme == "https":
            extensions.setdefault("sni_hostname", url.host)
        return httpx.Request(
            request.method,
            url.copy_with(host=address[0], port=address[1]),
            headers=request.headers,  # carries Host: the production name
            stream=request.stream,
            extensions=extensions,
        )

    def transport(self, verify: ssl.SSLContext, limits: httpx.Limits) -> httpx.BaseTransport:
        """An `httpx.HTTPTransport`, routed when there are routes."""
        inner = httpx.HTTPTransport(verify=verify, limits=limits)
        return RoutedTransport(inner, self) if self else inner

    def async_transport(
        self, verify: ssl.SSLContext, limits: httpx.Limits
    ) -> httpx.AsyncBaseTransport:
        """`transport` for `httpx.AsyncClient`."""
        inner = httpx.AsyncHTTPTransport(verify=verify, limits=limits)
        return AsyncRoutedTransport(inner, self) if self else inner

    def __repr__(self) -> str:
        pairs = [f"{h}:{p}" for h, p in self.routes] + [f"*.{h}:{p}" for h, p in self.wildcards]
        return f"ConnectTo({', '.join(pairs)})"


class RoutedTransport(httpx.BaseTransport):
    """An httpx transport that connects as `connect_to` says and otherwise is `inner`."""

    def __init__(self, inner: httpx.BaseTransport, connect_to: ConnectTo) -> None:
        self._inner = inner
        self._connect_to = connect_to

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(self._connect_to.routed(request))

    def close(self) -> None:
        self._inner.close()


class AsyncRoutedTransport(httpx.AsyncBaseTransport):
    """`RoutedTransport` for `httpx.AsyncClient`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, connect_to: ConnectTo) -> None:
        self._inner = inner
        self._connect_to = connect_to

    def handle_async_request(self, request: httpx.Request) -> Coroutine[Any, Any, httpx.Response]:
        """The inner transport's coroutine itself: no frame of ours for suspensions to cross."""
        return self._inner.handle_async_request(self._connect_to.routed(request))

    async def aclose(self) -> None:
        await self._inner.aclose()


def _address(text: str, where: str, entry: str) -> Address:
    host, separator, port = text.strip().rpartition(":")
    host = host.strip().lower().removeprefix("[").removesuffix("]")
    if not separator or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _bad(where, entry, f"{text.strip()!r} is not host:port")
    if "*" in host.removeprefix("*."):
        raise _bad(where, entry, "a wildcard may only be a leading '*.'")
    return host, int(port)


def _bad(where: str, entry: str, message: str) -> ConfigurationError:
    return ConfigurationError([ConfigurationProblem(where, f"{entry!r}: {message}")])
