"""Fuzzing the settings sources: JSONC and YAML appsettings, `.env`, and environment variables
with `__` indices. Whatever the files and variables hold, loading ends in settings or one
`ConfigurationError`; so does the build check on what loaded. The `.env` parser is also fuzzed
alone (`parse_dotenv`, no file), and a YAML nesting bomb is refused before PyYAML parses it."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_strategies import any_text, deep_nesting, json_values
from fuzz_strategies import typed_only as typed
from hypothesis import given
from hypothesis import strategies as st

from identity_web import ConfigurationError
from identity_web.settings import check_build, load_settings
from identity_web.settings._files import FileInvalid, parse_dotenv

_DIRECTORY = Path(tempfile.mkdtemp(prefix="identity-web-fuzz-settings-"))
_FILES = ("appsettings.json", "appsettings.yaml", ".env", "appsettings.Fuzz.json")

KEYS = (
    "AzureAd", "Instance", "TenantId", "ClientId", "Authority", "AzureRegion",
    "ClientCredentials", "SourceType", "ClientSecret", "CertificateDiskPath",
    "Base64EncodedValue", "CertificatePassword", "ManagedIdentityClientId", "SendX5C",
    "ClientCapabilities", "DownstreamApis", "MyApi", "BaseUrl", "RelativePath", "Scopes",
    "HttpMethod", "ProtocolScheme", "RequestAppToken", "AcquireTokenOptions", "ManagedIdentity",
    "UserAssignedClientId", "ExtraHeaderParameters", "ExtraQueryParameters", "TokenCache",
    "CacheType", "ConnectionString", "TokenValidationParameters", "Skip",
)  # fmt: skip
VALUES = (
    "ClientSecret", "Path", "Base64Encoded", "SignedAssertionFromManagedIdentity", "KeyVault",
    "MTLS_POP", "Bearer", "https://login.microsoftonline.com/", "http://127.0.0.1:1/",
    "common", "organizations", "api://x/.default", "GET", "POST", "Redis", "Memory",
)  # fmt: skip

keys = st.sampled_from(KEYS) | any_text
values = st.sampled_from(VALUES) | json_values
documents = st.recursive(
    values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=20,
)
shaped = st.builds(
    lambda azure_ad, apis, extra: {"AzureAd": azure_ad, "DownstreamApis": apis, **extra},
    st.dictionaries(keys, documents, max_size=6),
    st.dictionaries(keys, st.dictionaries(keys, documents, max_size=5), max_size=2),
    st.dictionaries(keys, documents, max_size=2),
)


def _write(files: Mapping[str, bytes]) -> Path:
    for name in _FILES:
        (_DIRECTORY / name).unlink(missing_ok=True)
    for name, data in files.items():
        (_DIRECTORY / name).write_bytes(data)
    return _DIRECTORY


def _load(files: Mapping[str, bytes], environ: Mapping[str, str] | None = None) -> None:
    directory = _write(files)

    def load_and_check() -> None:
        loaded = load_settings(directory, environ=dict(environ or {}), environment="Fuzz")
        check_build(loaded.settings, loaded.settings.downstream_api_names())

    typed(load_and_check)


def _jsonc(value: Any, comment: str, trailing_comma: bool, bom: bool) -> bytes:
    text = json.dumps(value, indent=1, allow_nan=True)
    text = text.replace("\n", f" // {comment}\n", 1) if "\n" not in comment else text
    if trailing_comma and text.endswith("}") and len(text) > 2:
        text = text[:-1].rstrip() + ",}"
    return (("\ufeff" if bom else "") + f"/* {comment.replace('*/', '')} */" + text).encode(
        "utf-8", errors="surrogatepass"
    )


raw_bytes = st.binary(max_size=400) | deep_nesting()
raw_text = any_text.map(lambda t: t.encode("utf-8", errors="surrogatepass"))


@given(
    st.one_of(
        st.builds(_jsonc, shaped | documents, any_text, st.booleans(), st.booleans()),
        raw_bytes,
        raw_text,
    )
)
def test_jsonc_appsettings(data: bytes) -> None:
    _load({"appsettings.json": data})


@given(shaped, shaped.map(lambda d: json.dumps(d).encode("utf-8", errors="surrogatepass")))
def test_environment_json_over_base_json(base: dict[str, Any], environment: bytes) -> None:
    _load({"appsettings.json": json.dumps(base).encode("utf-8", "surrogatepass"),
           "appsettings.Fuzz.json": environment})  # fmt: skip


def _yaml(value: Any) -> bytes:
    return yaml.safe_dump(value, allow_unicode=True).encode("utf-8", errors="surrogatepass")


yaml_specials = st.sampled_from(
    [
        b"a: &a [1,2]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n"
        b"d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
        b"AzureAd: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\nDownstreamApis: {A: {Scopes: *f}}\n",
        b"AzureAd: {1: 2, null: x, [a]: b}\n",
        b"AzureAd: {? [a, b] : c}\n",
        b"AzureAd:\n  ClientId: !!binary aGVsbG8=\n",
        b"AzureAd: !!python/object:os.system x\n",
        b"AzureAd: {ClientId: 2001-01-01}\n",
        b"AzureAd: {ClientCredentials: [{SourceType: ClientSecret, ClientSecret: .nan}]}\n",
        b"--- a\n--- b\n",
        b"\t\x00",
        b"[" * 33_076,  # 66 kB: PyYAML's parser alone spends seconds on it
        b'["]",' * 13_000,  # brackets hidden in quoted scalars do not hide the nesting
        b"!!seq [" * 8_000,
        b"- " * 33_000 + b"x",
        b"{a: " * 16_000,
    ]
)


@given(st.one_of(shaped.map(_yaml), documents.map(_yaml), raw_bytes, raw_text, yaml_specials))
def test_yaml_appsettings(data: bytes) -> None:
    _load({"appsettings.yaml": data})


dotenv_lines = st.one_of(
    st.builds(
        lambda name, value, quote: f"{name}={quote}{value}{quote}",
        st.lists(keys | st.sampled_from(["0", "1", "-1", "99999999999999999999"]), min_size=1,
                 max_size=5).map("__".join),
        any_text.filter(lambda t: "\n" not in t and "\r" not in t),
        st.sampled_from(["", "'", '"']),
    ),
    any_text,
    st.sampled_from(["export A=1", "# c", "A", "=x", "A='x", 'A="x\\', "A=x # c"]),
)  # fmt: skip


@given(st.lists(dotenv_lines, max_size=8).map("\n".join))
def test_dotenv_parser(text: str) -> None:
    """The parser alone, without a file: a dict of strings or a problem naming the line."""
    try:
        values = parse_dotenv(text)
    except FileInvalid as invalid:
        problem = invalid.problem
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())
        return
    assert problem.path == ".env"
    assert problem.message.startswith("line ")


@pytest.mark.parametrize("bomb", [b"[" * 33_076, b'["]",' * 13_000, b"{a: " * 16_000])
def test_a_yaml_nesting_bomb_is_refused_in_milliseconds(bomb: bytes) -> None:
    directory = _write({"appsettings.yaml": bomb})
    started = time.perf_counter()
    with pytest.raises(ConfigurationError, match=r"appsettings\.yaml: not read: it is nested"):
        load_settings(directory, environ={})
    assert time.perf_counter() - started < 0.2


@given(st.lists(dotenv_lines, max_size=8).map("\n".join), st.booleans())
def test_dotenv(text: str, with_json: bool) -> None:
    files = {".env": text.encode("utf-8", errors="surrogatepass")}
    if with_json:
        files["appsettings.json"] = b'{"AzureAd": {"ClientId": "x"}, "DownstreamApis": {}}'
    _load(files)


segments = (
    st.sampled_from(KEYS)
    | st.sampled_from(["0", "1", "00", "-1", "1e3", "", " 2"])
    | (st.integers(min_value=0, max_value=10**30).map(str))
    | any_text.filter(lambda t: "\x00" not in t)
)
variables = st.dictionaries(
    st.lists(segments, min_size=1, max_size=6).map("__".join).filter(lambda n: "\x00" not in n),
    (st.sampled_from(VALUES) | any_text).filter(lambda v: "\x00" not in v),
    max_size=8,
)


@given(variables, st.booleans())
def test_environment_variables_with_indices(environ: dict[str, str], with_json: bool) -> None:
    files = {}
    if with_json:
        files["appsettings.json"] = (
            b'{"AzureAd": {"ClientCredentials": [{"SourceType": "ClientSecret"}]},'
            b' "DownstreamApis": {"MyApi": {"Scopes": ["a"]}}}'
        )
    _load(files, environ)
