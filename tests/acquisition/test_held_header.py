"""The header the provider holds for a frozen options object is given out again only while it is
still the answer: the cache entry unchanged, the same credential selected, the token fresh.

Tier 1: the real acquirer and provider over a scripted identity provider that numbers its
tokens, so a test sees which token a header carries and how many requests were sent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from acquisition_helpers import (
    FakeCredentials,
    ScriptedRunner,
    certificate_credential,
    json_response,
    secret_credential,
)

from identity_web import AuthorizationHeaderInformation
from identity_web.acquisition import AuthorizationHeaderProvider, TokenAcquirer, TokenRequestOptions
from identity_web.cache import CacheEntry, CacheKey, InMemoryTokenCache, TokenCache
from identity_web.credentials import LoadedCredential
from identity_web.protocol import BindingCertificate, HttpRequest, HttpResponse
from identity_web.settings import DownstreamApiOptions, MicrosoftIdentityApplicationOptions

SCOPE = "api://r/.default"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class NumberedTokens:
    """Answers like Entra (mtls_pop when asked), each token numbered: at-1, at-2, …"""

    extra: dict[str, Any] = field(default_factory=dict)
    issued: int = 0

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.issued += 1
        asked = (request.form or {}).get("token_type")
        body = {
            "token_type": "mtls_pop" if asked == "mtls_pop" else "Bearer",
            "expires_in": 3600,
            "access_token": f"at-{self.issued}",
            **self.extra,
        }
        return json_response(200, body)


class DictCache:
    """A `TokenCache` that is not ours (no generation to watch)."""

    def __init__(self) -> None:
        self.entries: dict[CacheKey, CacheEntry] = {}

    def peek(self, key: CacheKey) -> CacheEntry | None:
        return self.entries.get(key)

    get = peek

    async def get_async(self, key: CacheKey) -> CacheEntry | None:
        return self.entries.get(key)

    def set(self, key: CacheKey, entry: CacheEntry) -> None:
        self.entries[key] = entry

    async def set_async(self, key: CacheKey, entry: CacheEntry) -> None:
        self.entries[key] = entry

    def remove(self, key: CacheKey) -> None:
        self.entries.pop(key, None)

    async def remove_async(self, key: CacheKey) -> None:
        self.entries.pop(key, None)


@dataclass
class Stage:
    provider: AuthorizationHeaderProvider
    acquirer: TokenAcquirer
    runner: ScriptedRunner
    credentials: FakeCredentials
    clock: Clock

    def token(self, header: AuthorizationHeaderInformation) -> str:
        return header.header_value.split(" ", 1)[1]

    def header(self, options: DownstreamApiOptions, call: str) -> AuthorizationHeaderInformation:
        """The header as `call` ("sync" or "asyncio") asks for it: the asyncio hit takes its own
        path (`create_authorization_header_async` holds its own copy of the test)."""
        if call == "sync":
            return self.provider.create_authorization_header(options)
        return asyncio.run(self.provider.create_authorization_header_async(options))

    def held(self, options: DownstreamApiOptions) -> AuthorizationHeaderInformation:
        """The miss, then the first hit (which the provider holds from then on)."""
        self.provider.create_authorization_header(options)
        hit = self.provider.create_authorization_header(options)
        assert hit.metadata["token_source"] == "cache"
        return hit


def stage(
    credential: LoadedCredential,
    *,
    cache: TokenCache | None = None,
    answers: Callable[[HttpRequest], HttpResponse] | None = None,
) -> Stage:
    runner = ScriptedRunner(answers or NumberedTokens())
    app = MicrosoftIdentityApplicationOptions.model_validate(
        {
            "Instance": "https://login.microsoftonline.com/",
            "TenantId": "contoso.com",
            "ClientId": "a",
        }
    )
    credentials = FakeCredentials(credential)
    clock = Clock()
    acquirer = TokenAcquirer(
        app, credentials, runner, cache or InMemoryTokenCache(), None, clock, environ={}
    )
    return Stage(AuthorizationHeaderProvider(acquirer), acquirer, runner, credentials, clock)


def api(scheme: str = "Bearer") -> DownstreamApiOptions:
    return DownstreamApiOptions.model_validate(
        {
            "BaseUrl": "https://api.contoso.com/",
            "Scopes": [SCOPE],
            "RequestAppToken": True,
            "ProtocolScheme": scheme,
        }
    )


def test_a_hit_gives_the_same_header_object_without_a_request() -> None:
    s, options = stage(secret_credential()), api()
    first = s.held(options)
    assert s.provider.create_authorization_header(options) is first
    assert s.provider.cached_header(options) is first
    assert asyncio.run(s.provider.create_authorization_header_async(options)) is first
    assert len(s.runner.posts()) == 1


CALLS = pytest.mark.parametrize("call", ["sync", "asyncio"])


@CALLS
def test_emptying_the_cache_ends_the_held_header(call: str) -> None:
    s, options = stage(secret_credential()), api()
    assert s.token(s.header(options, call)) == "at-1"
    assert s.token(s.header(options, call)) == "at-1"  # a hit: held from now on
    cache = s.acquirer.cache
    assert isinstance(cache, InMemoryTokenCache)
    cache.clear()
    assert s.token(s.header(options, call)) == "at-2"
    assert len(s.runner.posts()) == 2


@CALLS
def test_a_newer_token_stored_under_the_key_replaces_the_held_header(call: str) -> None:
    s, options = stage(secret_credential()), api()
    assert s.token(s.held(options)) == "at-1"
    assert s.token(s.header(options, call)) == "at-1"
    forced = s.acquirer.acquire_token_for_app(SCOPE, TokenRequestOptions(force_refresh=True))
    assert forced.access_token == "at-2"
    assert s.token(s.header(options, call)) == "at-2"
    assert len(s.runner.posts()) == 2


@CALLS
def test_a_new_selected_certificate_is_not_given_the_old_bound_header(
    call: str, app_certificate: BindingCertificate, renewed_certificate: BindingCertificate
) -> None:
    s, options = stage(certificate_credential(app_certificate)), api("MTLS_POP")
    first = s.held(options)
    assert first.binding_certificate == app_certificate
    assert s.header(options, call) is first
    s.credentials.credential = certificate_credential(renewed_certificate)
    renewed = s.header(options, call)
    assert renewed.binding_certificate == renewed_certificate
    assert s.token(renewed) == "at-2"
    assert s.token(s.header(options, call)) == "at-2"
    assert len(s.runner.posts()) == 2


@CALLS
def test_an_expired_token_is_not_given_from_the_held_header(call: str) -> None:
    s, options = stage(secret_credential()), api()
    assert s.token(s.held(options)) == "at-1"
    assert s.token(s.header(options, call)) == "at-1"
    s.clock.now += 3600
    assert s.token(s.header(options, call)) == "at-2"


def test_past_refresh_on_the_valid_token_is_served_while_it_is_refreshed() -> None:
    s, options = stage(secret_credential(), answers=NumberedTokens({"refresh_in": 1800})), api()
    assert s.token(s.held(options)) == "at-1"
    s.clock.now += 1801
    assert s.token(s.provider.create_authorization_header(options)) == "at-1"  # noticed
    deadline = time.monotonic() + 5
    while s.token(s.provider.create_authorization_header(options)) != "at-2":
        assert time.monotonic() < deadline, "the background refresh did not happen"
        time.sleep(0.005)
    assert len(s.runner.posts()) == 2


@CALLS
def test_with_a_cache_that_is_not_ours_every_call_reads_the_cache(call: str) -> None:
    cache = DictCache()
    s, options = stage(secret_credential(), cache=cache), api()
    assert s.token(s.held(options)) == "at-1"
    assert s.token(s.header(options, call)) == "at-1"
    cache.entries.clear()
    assert s.token(s.header(options, call)) == "at-2"
    assert len(s.runner.posts()) == 2
