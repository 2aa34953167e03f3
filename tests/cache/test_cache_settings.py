"""The TokenCache section: forms it accepts, errors that name the key, what it builds."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path

import pytest

from identity_web import ConfigurationError
from identity_web.cache import (
    DistributedTokenCache,
    InMemoryTokenCache,
    LocalCoordinator,
    RedisCoordinator,
    build_token_cache,
)
from identity_web.settings import IdentityWebSettings, load_settings
from identity_web.settings._cache import CacheType, Topology, parse_connection_string

KEY = base64.b64encode(bytes(range(32))).decode()


def settings(section: dict[str, object]) -> IdentityWebSettings:
    return IdentityWebSettings.from_mapping({"TokenCache": section})


def problems(section: dict[str, object]) -> list[str]:
    with pytest.raises(ConfigurationError) as caught:
        settings(section)
    return [str(problem) for problem in caught.value.problems]


def test_absent_section_is_the_memory_cache() -> None:
    options = IdentityWebSettings.from_mapping({}).token_cache
    assert options.type is CacheType.Memory
    setup = build_token_cache(options, environ={})
    assert isinstance(setup.cache, InMemoryTokenCache)
    assert isinstance(setup.coordinator, LocalCoordinator)


def test_keys_and_values_bind_case_insensitively() -> None:
    options = settings(
        {"type": "redis", "connectionstring": "redis://localhost", "l1sizelimit": 5}
    ).token_cache
    assert options.type is CacheType.Redis
    assert options.l1_size_limit == 5
    assert options.key_prefix == "identity-web"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("redis://127.0.0.1", (Topology.STANDALONE, False, (("127.0.0.1", 6379),), 0, "")),
        ("rediss://u:p@h:6380/3", (Topology.STANDALONE, True, (("h", 6380),), 3, "")),
        (
            "redis+sentinel://s1:26379,s2/mymaster/2",
            (Topology.SENTINEL, False, (("s1", 26379), ("s2", 26379)), 2, "mymaster"),
        ),
        (
            "rediss+cluster://a:7000,b:7001",
            (Topology.CLUSTER, True, (("a", 7000), ("b", 7001)), 0, ""),
        ),
        ("redis://[::1]:7000", (Topology.STANDALONE, False, (("::1", 7000),), 0, "")),
    ],
)
def test_connection_string_forms(url: str, expected: tuple[object, ...]) -> None:
    endpoint = parse_connection_string(url)
    found = (endpoint.topology, endpoint.tls, endpoint.hosts, endpoint.db, endpoint.service)
    assert found == expected


def test_credentials_in_the_url_stay_out_of_reprs_and_messages() -> None:
    endpoint = parse_connection_string("rediss://app:hunter2-pw@cache:6380")
    assert endpoint.username == "app"
    assert endpoint.password == "hunter2-pw"
    assert "hunter2" not in repr(endpoint)
    assert "hunter2" not in endpoint.redacted()
    options = settings({"Type": "Redis", "ConnectionString": "rediss://app:hunter2-pw@cache"})
    assert "hunter2" not in repr(options)
    found = problems({"Type": "Redis", "ConnectionString": "redis://app:hunter2-pw@cache:99999"})
    assert found == [
        "TokenCache.ConnectionString: found a value (masked); '99999' is not a port number"
    ]


@pytest.mark.parametrize(
    ("section", "path", "words"),
    [
        ({"Type": "Redis"}, "TokenCache", "needs ConnectionString"),
        ({"Type": "Memcached"}, "TokenCache.Type", "Memory"),
        (
            {"Type": "Redis", "ConnectionString": "http://x"},
            "TokenCache.ConnectionString",
            "scheme",
        ),
        (
            {"Type": "Redis", "ConnectionString": "redis://a,b"},
            "TokenCache.ConnectionString",
            "+sentinel",
        ),
        (
            {"Type": "Redis", "ConnectionString": "redis+sentinel://a"},
            "TokenCache.ConnectionString",
            "service",
        ),
        ({"Type": "Redis", "ConnectionString": "redis://10.1.2.3"}, "TokenCache", "plain TCP"),
        ({"L1SizeLimit": 0}, "TokenCache.L1SizeLimit", "greater than or equal to 1"),
        ({"KeyPrefix": "a{b}"}, "TokenCache.KeyPrefix", "hash tags"),
        ({"Encrypt": True, "EncryptionKey": "c2hvcnQ="}, "TokenCache.EncryptionKey", "5 bytes"),
        ({"Encrypt": True, "EncryptionKey": "env:1BAD"}, "TokenCache.EncryptionKey", "environment"),
        (
            {"Type": "Redis", "ConnectionString": "redis://localhost", "Encrypt": True},
            "TokenCache",
            "EncryptionKey is not set",
        ),
    ],
)
def test_errors_name_the_key_path(section: dict[str, object], path: str, words: str) -> None:
    found = problems(section)
    assert len(found) == 1
    assert found[0].startswith(f"{path}: ")
    assert words in found[0]


def test_plain_tcp_to_another_machine_is_allowed_once_entries_are_sealed() -> None:
    options = settings(
        {
            "Type": "Redis",
            "ConnectionString": "redis://10.1.2.3",
            "Encrypt": True,
            "EncryptionKey": KEY,
        }
    ).token_cache
    assert options.encryption_keys({}) == (bytes(range(32)),)


def test_encryption_key_from_the_environment_and_rotation_list() -> None:
    other = base64.urlsafe_b64encode(b"k" * 16).decode()
    options = settings({"Encrypt": True, "EncryptionKey": f"env:CACHE_KEY, {other}"}).token_cache
    assert options.encryption_keys({"CACHE_KEY": KEY}) == (bytes(range(32)), b"k" * 16)
    with pytest.raises(
        ConfigurationError,
        match=r"TokenCache.EncryptionKey: environment variable CACHE_KEY is not set",
    ):
        options.encryption_keys({})
    with pytest.raises(ConfigurationError, match="decodes to 3 bytes") as caught:
        options.encryption_keys({"CACHE_KEY": "YWJj"})
    assert "YWJj" not in str(caught.value)


def test_the_section_loads_from_environment_variables(tmp_path: Path) -> None:
    loaded = load_settings(
        tmp_path,
        environ={
            "TokenCache__Type": "Redis",
            "TokenCache__ConnectionString": "redis://127.0.0.1:7000",
            "TokenCache__DisableL1Cache": "true",
        },
    )
    options = loaded.settings.token_cache
    assert (options.type, options.disable_l1_cache) == (CacheType.Redis, True)
    assert loaded.source_of("TokenCache.ConnectionString") == "env"
    assert "TokenCache" not in loaded.settings.downstream_api_names()


def test_redis_type_builds_the_distributed_cache_and_coordinator() -> None:
    options = settings({"Type": "Redis", "ConnectionString": "redis://127.0.0.1:1"}).token_cache
    setup = build_token_cache(options, environ={})
    assert isinstance(setup.cache, DistributedTokenCache)
    assert isinstance(setup.coordinator, RedisCoordinator)


def test_schema_describes_the_section() -> None:
    from identity_web.settings._schema import build_schema  # noqa: PLC0415

    schema = build_schema()
    section = schema["$defs"]["TokenCacheOptions"]
    assert schema["properties"]["TokenCache"] == {"$ref": "#/$defs/TokenCacheOptions"}
    assert set(section["properties"]) == {
        "Type",
        "ConnectionString",
        "KeyPrefix",
        "Encrypt",
        "EncryptionKey",
        "DisableL1Cache",
        "L1SizeLimit",
    }
    assert section["properties"]["Type"]["enum"] == ["Memory", "Redis"]


def test_redis_is_imported_only_when_configured() -> None:
    code = (
        "import sys, identity_web.cache, identity_web.container\n"
        "from identity_web.settings import IdentityWebSettings\n"
        "from identity_web.cache import build_token_cache\n"
        "build_token_cache(IdentityWebSettings.from_mapping({}).token_cache, environ={})\n"
        "print(json.dumps('redis' in sys.modules))"
    )
    result = subprocess.run(  # noqa: S603 - this interpreter, our own code
        [sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True
    )
    assert json.loads(result.stdout) is False
