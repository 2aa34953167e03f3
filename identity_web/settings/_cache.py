"""The top-level `TokenCache` section: which token cache, where its Redis is, how entries are kept.

```json
"TokenCache": {
  "Type": "Redis",
  "ConnectionString": "rediss://app:password@cache.example.net:6380/0",
  "KeyPrefix": "contoso-daemon",
  "Encrypt": true,
  "EncryptionKey": "env:TOKEN_CACHE_KEY",
  "DisableL1Cache": false,
  "L1SizeLimit": 10000
}
```

`Encrypt`, `DisableL1Cache` and the L1 size limit are Identity.Web's distributed cache options
(`MsalDistributedTokenCacheAdapterOptions`); the connection string takes the URL forms of
redis-py, plus `+sentinel` and `+cluster` schemes for the two topologies a URL alone cannot name.
Everything here is parsed and checked at load time; nothing imports redis.
"""

from __future__ import annotations

import base64
import binascii
import enum
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator, model_validator

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.settings._models import SettingsModel
from identity_web.settings._types import OptStr

SECTION = "TokenCache"
ENV_PREFIX = "env:"
AES_KEY_SIZES = (16, 24, 32)
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFAULT_PORTS = {"standalone": 6379, "sentinel": 26379, "cluster": 6379}


class CacheType(enum.StrEnum):
    """`TokenCache.Type`: an in-process cache only, or an L1 in memory before a Redis L2."""

    Memory = "Memory"
    Redis = "Redis"

    @classmethod
    def parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            for member in cls:
                if member.value.casefold() == value.strip().casefold():
                    return member
        return value


class Topology(enum.StrEnum):
    STANDALONE = "standalone"
    SENTINEL = "sentinel"
    CLUSTER = "cluster"


@dataclass(frozen=True, slots=True)
class RedisEndpoint:
    """A parsed `ConnectionString`. The password stays out of the repr."""

    topology: Topology
    tls: bool
    hosts: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    db: int = 0
    service: str = ""
    unix_path: str = ""

    @property
    def is_local(self) -> bool:
        """Every host is on this machine (loopback or a unix socket)."""
        return bool(self.unix_path) or all(_is_loopback(host) for host, _ in self.hosts)

    def redacted(self) -> str:
        """For messages and logs: scheme and hosts, never the password."""
        if self.unix_path:
            return f"unix://{self.unix_path}"
        suffix = {Topology.STANDALONE: "", Topology.SENTINEL: "+sentinel"}.get(
            self.topology, "+cluster"
        )
        hosts = ",".join(f"{host}:{port}" for host, port in self.hosts)
        return f"redis{'s' if self.tls else ''}{suffix}://{hosts}"


def _is_loopback(host: str) -> bool:
    if host.casefold() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


CONNECTION_FORMS = (
    "redis://[user:password@]host[:port][/db], rediss://… (TLS), unix:///path/to/socket, "
    "redis+sentinel://[user:password@]host:port[,host:port…]/service[/db] (or rediss+sentinel), "
    "redis+cluster://[user:password@]host:port[,host:port…] (or rediss+cluster)"
)


def parse_connection_string(text: str) -> RedisEndpoint:
    """Parse one of the `CONNECTION_FORMS`; ValueError (without the password) when malformed."""
    scheme, sep, rest = text.strip().partition("://")
    if not sep:
        raise ValueError(f"not a URL; use one of: {CONNECTION_FORMS}")
    scheme = scheme.casefold()
    if scheme == "unix":
        return RedisEndpoint(Topology.STANDALONE, tls=False, hosts=(), unix_path=rest)
    base, _, kind = scheme.partition("+")
    if base not in {"redis", "rediss"} or kind not in {"", "sentinel", "cluster"}:
        raise ValueError(f"unknown scheme {scheme!r}; use one of: {CONNECTION_FORMS}")
    topology = Topology(kind or "standalone")
    location, _, path = rest.partition("/")
    path = path.split("?", 1)[0]
    credentials, at, hostlist = location.rpartition("@")
    username, password = _credentials(credentials) if at else (None, None)
    hosts = tuple(_host_port(item, _DEFAULT_PORTS[topology]) for item in hostlist.split(","))
    segments = [segment for segment in path.split("/") if segment]
    service = ""
    if topology is Topology.SENTINEL:
        if not segments:
            raise ValueError("a Sentinel URL names the service: redis+sentinel://h:26379/mymaster")
        service = unquote(segments.pop(0))
    if topology is Topology.CLUSTER and segments:
        raise ValueError("a Cluster URL has no database path (cluster mode has database 0 only)")
    if len(hosts) > 1 and topology is Topology.STANDALONE:
        raise ValueError("several hosts need redis+sentinel:// or redis+cluster://")
    db = _database(segments)
    return RedisEndpoint(topology, base == "rediss", hosts, username, password, db, service)


def _credentials(text: str) -> tuple[str | None, str | None]:
    user, colon, password = text.partition(":")
    if not colon:  # redis://password@host is redis-py's form for a password alone
        return None, unquote(user) or None
    return unquote(user) or None, unquote(password) or None


def _host_port(text: str, default: int) -> tuple[str, int]:
    text = text.strip()
    if not text:
        raise ValueError("a host is missing")
    if text.startswith("["):
        host, _, tail = text[1:].partition("]")
        port_text = tail.removeprefix(":")
    else:
        host, _, port_text = text.partition(":")
    if not port_text:
        return host, default
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"{port_text!r} is not a port number")
    return host, int(port_text)


def _database(segments: list[str]) -> int:
    if not segments:
        return 0
    if len(segments) > 1 or not segments[0].isdigit():
        raise ValueError(f"the path must be a database number, found /{'/'.join(segments)}")
    return int(segments[0])


def _check_key_item(item: str) -> None:
    if item.startswith(ENV_PREFIX):
        if not _ENV_NAME.fullmatch(item[len(ENV_PREFIX) :]):
            raise ValueError(f"{item!r} does not name an environment variable")
        return
    decode_key(item)


def decode_key(text: str) -> bytes:
    """Base64 (standard or URL-safe) of a 16, 24 or 32 byte AES key; ValueError otherwise."""
    try:
        raw = base64.b64decode(text.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(
            "is neither 'env:VARIABLE' nor base64 (make one with: python -c \"import os, "
            'base64; print(base64.b64encode(os.urandom(32)).decode())")'
        ) from None
    if len(raw) not in AES_KEY_SIZES:
        raise ValueError(f"decodes to {len(raw)} bytes; an AES key has 16, 24 or 32 bytes")
    return raw


class TokenCacheOptions(SettingsModel):
    """The `TokenCache` section. Absent: an in-memory cache per process."""

    type: Annotated[
        CacheType,
        BeforeValidator(CacheType.parse),
        WithJsonSchema({"enum": [member.value for member in CacheType]}),
    ] = CacheType.Memory
    """Memory (one cache per process) or Redis (memory L1 before a Redis L2 shared by a fleet)."""
    connection_string: OptStr = Field(default=None, repr=False)
    """Redis only: redis://, rediss:// (TLS), unix://, redis+sentinel:// or redis+cluster:// URL
    (may carry user:password@, so it is never shown)."""
    key_prefix: str = "identity-web"
    """Prefix of every Redis key, so several applications can share one Redis."""
    encrypt: bool = False
    """Redis only: encrypt entries with AES-256-GCM before they leave the process."""
    encryption_key: OptStr = Field(default=None, repr=False)
    """Comma-separated keys, the first encrypts, all decrypt (rotation): base64 of 16/24/32 bytes,
    or env:VARIABLE naming an environment variable that holds one."""
    disable_l1_cache: bool = Field(default=False, alias="DisableL1Cache")
    """Redis only: no in-process L1; every read goes to Redis."""
    l1_size_limit: int = Field(default=10_000, ge=1, alias="L1SizeLimit")
    """Most tokens kept in memory (expired ones go first, then the least recently written)."""

    @field_validator("connection_string")
    @classmethod
    def _check_connection_string(cls, value: str | None) -> str | None:
        if value is not None:
            parse_connection_string(value)
        return value

    @field_validator("encryption_key")
    @classmethod
    def _check_encryption_key(cls, value: str | None) -> str | None:
        if value is not None:
            for item in value.split(","):
                _check_key_item(item.strip())
        return value

    @field_validator("key_prefix")
    @classmethod
    def _check_key_prefix(cls, value: str) -> str:
        if not value.strip() or any(ch in value for ch in "{}"):
            raise ValueError("must be non-empty text without { or } (Redis Cluster hash tags)")
        return value.strip()

    @model_validator(mode="after")
    def _check_redis(self) -> TokenCacheOptions:
        if self.type is not CacheType.Redis:
            return self
        if self.connection_string is None:
            raise ValueError(f"Type Redis needs ConnectionString ({CONNECTION_FORMS})")
        if self.encrypt and self.encryption_key is None:
            raise ValueError("Encrypt is true but EncryptionKey is not set")
        endpoint = self.endpoint()
        if not endpoint.tls and not endpoint.is_local and not self.encrypt:
            raise ValueError(
                f"{endpoint.redacted()} is plain TCP to another machine: tokens would cross the "
                "network readable; use rediss:// or set Encrypt with an EncryptionKey"
            )
        return self

    def endpoint(self) -> RedisEndpoint:
        """The parsed ConnectionString (Type Redis)."""
        assert self.connection_string is not None
        return parse_connection_string(self.connection_string)

    def encryption_keys(self, environ: Mapping[str, str]) -> tuple[bytes, ...]:
        """The AES keys, the writing key first; ConfigurationError naming the key path."""
        if not self.encrypt or self.encryption_key is None:
            return ()
        keys = []
        for position, item in enumerate(part.strip() for part in self.encryption_key.split(",")):
            text, origin = item, f"key {position + 1}"
            if item.startswith(ENV_PREFIX):
                name = item[len(ENV_PREFIX) :]
                text, origin = environ.get(name, "").strip(), f"environment variable {name}"
                if not text:
                    raise _key_problem(f"{origin} is not set or empty")
            try:
                keys.append(decode_key(text))
            except ValueError as error:
                raise _key_problem(f"{origin} {error}") from None
        return tuple(keys)


def _key_problem(message: str) -> ConfigurationError:
    return ConfigurationError([ConfigurationProblem(f"{SECTION}.EncryptionKey", message)])
