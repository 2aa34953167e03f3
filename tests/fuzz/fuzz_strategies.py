"""Hostile inputs shared by the parser fuzz tests: bodies, headers, responses, texts."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

from identity_web import IdentityWebError
from identity_web.protocol._http import HttpResponse

T = TypeVar("T")

# Text with everything JSON can carry, lone surrogates included (`"\ud800"` is valid JSON).
any_text = st.text(st.characters(exclude_categories=[]), max_size=40)
odd_numbers = st.sampled_from(
    [0, -1, 1e308, -1e308, float("inf"), float("-inf"), float("nan"), 10**400, -(10**400), 2**63]
)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | odd_numbers
    | st.floats()
    | any_text
    | st.sampled_from(["", "0", "3600", "-5", "1e999", "NaN", "Infinity", "2024-01-01T00:00:00"])
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
    max_leaves=10,
)


def objects_with(fields: Sequence[str]) -> st.SearchStrategy[dict[str, Any]]:
    """JSON objects whose keys are mostly the ones a parser looks for, with any values."""
    keys = st.sampled_from(list(fields)) | any_text
    return st.dictionaries(keys, json_values, max_size=len(fields) + 2)


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode("utf-8", errors="surrogatepass")


def deep_nesting() -> st.SearchStrategy[bytes]:
    """`[[[…]]]` or `{"a":{…}}` deep enough to exhaust a recursive parser."""
    depth = st.integers(min_value=1, max_value=200_000)
    arrays = depth.map(lambda n: b"[" * n + b"]" * n)
    objects = depth.map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
    return arrays | objects


def bodies(fields: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Malformed JSON, wrong types, missing fields, huge or non-UTF-8 bodies."""
    return st.one_of(
        objects_with(fields).map(_dump),
        json_values.map(_dump),
        st.binary(max_size=300),
        any_text.map(lambda t: t.encode("utf-8", errors="surrogatepass")),
        deep_nesting(),
        st.integers(min_value=1, max_value=4_000_000).map(lambda n: b'{"x": "' + b"a" * n + b'"}'),
        objects_with(fields).map(lambda o: b"\xef\xbb\xbf" + _dump(o)),  # BOM
        objects_with(fields).map(lambda o: _dump(o)[: max(1, len(_dump(o)) // 2)]),  # truncated
    )


header_values = st.one_of(
    any_text.filter(lambda t: "\n" not in t),
    st.sampled_from(["0", "-1", "5", "1e999", "nan", "inf", "Wed, 21 Oct 2015 07:28:00 GMT"]),
    st.sampled_from(["Mon, 99 Foo 99999 99:99:99 GMT", "Thu, 01 Jan 1970 00:00:00 +9999", ""]),
)


def headers(names: Sequence[str]) -> st.SearchStrategy[dict[str, str]]:
    keys = st.sampled_from(list(names)) | any_text.map(str.lower)
    return st.dictionaries(keys, header_values, max_size=len(names) + 1)


def responses(
    fields: Sequence[str], header_names: Sequence[str] = ("content-type", "server")
) -> st.SearchStrategy[HttpResponse]:
    statuses = st.sampled_from([200, 200, 200, 201, 400, 401, 404, 410, 429, 500, 503]) | (
        st.integers(min_value=100, max_value=599)
    )
    return st.builds(
        HttpResponse,
        status=statuses,
        headers=headers(header_names),
        body=bodies(fields),
        url=st.sampled_from(["", "http://169.254.169.254/metadata/identity/oauth2/token"]),
    )


def typed_only(call: Callable[[], T]) -> T | None:
    """Run `call`; the package's typed errors are fine, anything else fails the example."""
    try:
        return call()
    except IdentityWebError:
        return None
