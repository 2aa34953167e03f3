"""What an L2 entry looks like: versioned, sealed with AES-GCM when asked, nothing secret."""

from __future__ import annotations

import dataclasses
import json
import os

import pytest
from cache_helpers import app_key, certificate, token_entry

from identity_web.cache._codec import EntryCodec, UnreadableEntry, key_id, may_leave_process

NAME = "identity-web:v1:{abc}"
AES = os.urandom(32)


def test_plain_entry_round_trips_with_its_format_version() -> None:
    codec, key, entry = EntryCodec(), app_key(), token_entry()
    raw = codec.encode(NAME, key, entry)
    assert raw is not None
    assert json.loads(raw)["v"] == 1
    assert codec.decode(NAME, key, raw) == entry


def test_sealed_entry_names_its_key_and_hides_the_token() -> None:
    codec, key, entry = EntryCodec([AES]), app_key(), token_entry("very-secret-token")
    raw = codec.encode(NAME, key, entry)
    assert raw is not None
    document = json.loads(raw)
    assert document["kid"] == key_id(AES)
    assert b"very-secret-token" not in raw
    assert codec.decode(NAME, key, raw) == entry


def test_rotation_the_first_key_seals_every_key_opens() -> None:
    new = os.urandom(32)
    old_raw = EntryCodec([AES]).encode(NAME, app_key(), token_entry())
    assert old_raw is not None
    rotated = EntryCodec([new, AES])
    assert rotated.decode(NAME, app_key(), old_raw).access_token == "token-1"
    new_raw = rotated.encode(NAME, app_key(), token_entry())
    assert new_raw is not None
    assert json.loads(new_raw)["kid"] == key_id(new)


@pytest.mark.parametrize(
    ("writer", "reader", "name", "reason"),
    [
        (EntryCodec([AES]), EntryCodec([os.urandom(32)]), NAME, "key id"),
        (EntryCodec([AES]), EntryCodec([AES]), "identity-web:v1:{other}", "does not decrypt"),
        (EntryCodec([AES]), EntryCodec(), NAME, "Encrypt is off"),
        (EntryCodec(), EntryCodec([AES]), NAME, "Encrypt is on"),
    ],
)
def test_entries_that_do_not_open_are_unreadable(
    writer: EntryCodec, reader: EntryCodec, name: str, reason: str
) -> None:
    raw = writer.encode(NAME, app_key(), token_entry())
    assert raw is not None
    with pytest.raises(UnreadableEntry, match=reason):
        reader.decode(name, app_key(), raw)


def test_a_tampered_sealed_entry_is_unreadable() -> None:
    raw = EntryCodec([AES]).encode(NAME, app_key(), token_entry())
    assert raw is not None
    document = json.loads(raw)
    document["sealed"] = document["sealed"][:-4] + (
        "AAAA" if document["sealed"][-4:] != "AAAA" else "BBBB"
    )
    with pytest.raises(UnreadableEntry, match="does not decrypt"):
        EntryCodec([AES]).decode(NAME, app_key(), json.dumps(document).encode())


@pytest.mark.parametrize(
    "raw",
    [b"not json", b"[1]", b'{"v": 2, "entry": {}}', b'{"v": 1, "entry": {"access_token": 5}}'],
)
def test_garbage_and_other_versions_are_unreadable(raw: bytes) -> None:
    with pytest.raises(UnreadableEntry):
        EntryCodec().decode(NAME, app_key(), raw)


def test_an_entry_is_read_only_under_its_own_token_type_and_thumbprint() -> None:
    raw = EntryCodec().encode(NAME, app_key(bound=True, binding="thumb-a"), token_entry(bound=True))
    assert raw is not None
    with pytest.raises(UnreadableEntry, match="thumbprint"):
        EntryCodec().decode(NAME, app_key(bound=True, binding="thumb-b"), raw)
    with pytest.raises(UnreadableEntry, match="token type"):
        EntryCodec().decode(NAME, app_key(), raw)


def test_tokens_bound_to_a_key_of_this_process_never_leave_it() -> None:
    imds_certificate = certificate("imds-v2")
    entry = dataclasses.replace(token_entry(bound=True), binding_certificate=imds_certificate)
    unnamed = app_key(bound=True)  # the flow chose the certificate: the key has no thumbprint
    assert not unnamed.shareable
    assert not may_leave_process(unnamed, entry)
    assert EntryCodec().encode(NAME, unnamed, entry) is None
    elsewhere = app_key(bound=True, binding="another-thumbprint")
    assert EntryCodec().encode(NAME, elsewhere, entry) is None


def test_certificate_bound_tokens_leave_with_their_thumbprint_only() -> None:
    app_certificate = certificate()
    key = app_key(bound=True, binding=app_certificate.x5t_s256)
    entry = dataclasses.replace(token_entry(bound=True), binding_certificate=app_certificate)
    raw = EntryCodec().encode(NAME, key, entry)
    assert raw is not None
    fields = json.loads(raw)["entry"]
    assert fields["x5t#S256"] == app_certificate.x5t_s256
    assert set(fields) == {
        "access_token",
        "token_type",
        "expires_on",
        "refresh_on",
        "token_endpoint",
        "correlation_id",
        "x5t#S256",
    }
    assert b"PRIVATE" not in raw
    assert b"BEGIN" not in raw
    decoded = EntryCodec().decode(NAME, key, raw)
    assert decoded.binding_certificate is None  # the reader brings its own certificate
