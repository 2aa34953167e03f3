"""`DownstreamApi`: call a named, configured API as the application.

One method does the work, `request(method, name, …)` (and `request_async`, the same step on the
async driver); it returns a `DownstreamResponse` (status, headers, body) and never raises for an
HTTP status. `method=None` follows the section's `HttpMethod` and `RequestAppToken` as
configured (that is `call`); a method fixes the verb and always uses an application token (like
Identity.Web's `*ForApp*` methods). `get/post/put/patch/delete` (and `_async`) are one line each:
`request` with the verb, then the parsed body, raising `DownstreamApiError` for a non-2xx answer.

The call is one step (`identity_web.downstream._flow.call_step`); see docs/downstream.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, TypeVar

from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.downstream._flow import HeaderSteps, call_step
from identity_web.downstream._options import apply_overrides, for_app_verb
from identity_web.downstream._request import CallTarget, call_target, encode_body
from identity_web.downstream._response import DownstreamResponse
from identity_web.protocol.steps import Step, StepRunner
from identity_web.settings import DownstreamApiOptions

logger = logging.getLogger(__name__)

Overrides = Mapping[str, Any]
"""A per-call override: Identity.Web keys, e.g. `{"RelativePath": "items/1"}`."""
Content = bytes | str | None
"""A raw request body (str is sent as UTF-8); `json=` is the other way to give one."""


R_co = TypeVar("R_co", covariant=True)


class VerbCall(Protocol[R_co]):
    """`DownstreamApi.get/post/put/patch/delete` (`R_co`: the parsed body of a 2xx answer) and
    their `_async` forms (`R_co`: an awaitable of it)."""

    def __call__(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> R_co: ...


class _Verb:
    """A class attribute: `DownstreamApi.request` with the method filled in, then the parsed
    body of a 2xx answer (`DownstreamApiError` otherwise)."""

    def __init__(self, method: str) -> None:
        self.method = method

    def __get__(self, api: DownstreamApi, owner: type | None = None) -> VerbCall[Any]:
        def verb(name: str, **arguments: Any) -> Any:
            return api.request(self.method, name, **arguments).raise_for_status().content()

        return verb


class _AsyncVerb(_Verb):
    def __get__(self, api: DownstreamApi, owner: type | None = None) -> VerbCall[Awaitable[Any]]:
        async def verb(name: str, **arguments: Any) -> Any:
            response = await api.request_async(self.method, name, **arguments)
            return response.raise_for_status().content()

        return verb


class DownstreamApi:
    """Calls the downstream APIs it was given, by name (case-insensitive)."""

    def __init__(
        self,
        apis: Mapping[str, DownstreamApiOptions],
        header_provider: HeaderSteps,
        transport: StepRunner,
    ) -> None:
        self._apis = {name.casefold(): (name, options) for name, options in apis.items()}
        self._headers = header_provider
        self._runner = transport
        #: (name as given, method) → (API name, effective options, their `CallTarget`): what a
        #: call without overrides sends is worked out once (the options are frozen).
        self._targets: dict[tuple[str, str | None], tuple[str, DownstreamApiOptions, CallTarget]]
        self._targets = {}

    @property
    def names(self) -> tuple[str, ...]:
        """The registered downstream API names."""
        return tuple(name for name, _ in self._apis.values())

    def options(self, name: str) -> DownstreamApiOptions:
        """The configured options of `name` (frozen; overrides never change them)."""
        return self._lookup(name)[1]

    def request(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
    ) -> DownstreamResponse:
        """Send a request to `name`; the response comes back whatever its status.

        `method=None`: the configured `HttpMethod` and `RequestAppToken`; a method: that verb
        with an application token.
        """
        return self._runner.run(self.request_step(method, name, overrides, content, json))

    async def request_async(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
    ) -> DownstreamResponse:
        """`request` for asyncio."""
        step = self.request_step(method, name, overrides, content, json)
        return await self._runner.run_async(step)

    def request_step(
        self,
        method: str | None,
        name: str,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
    ) -> Step[DownstreamResponse]:
        """The call as a step (options merged and the body encoded before any I/O)."""
        if overrides:
            api, configured = self._lookup(name)
            options = apply_overrides(configured, overrides, api=api)
            if method is not None:
                options = for_app_verb(options, method)
            target = call_target(options, api=api)
        else:
            known = self._targets.get((name, method))
            api, options, target = known if known is not None else self._target(name, method)
        body = (
            encode_body(content=content, json_value=json, content_type=options.content_type)
            if content is not None or json is not None
            else None
        )
        return call_step(options, body, api=api, headers=self._headers, target=target)

    def _target(
        self, name: str, method: str | None
    ) -> tuple[str, DownstreamApiOptions, CallTarget]:
        """Work out and remember (API name, effective options, target) of a call without
        overrides (the options are frozen, so once is enough)."""
        api, options = self._lookup(name)
        if method is not None:
            options = for_app_verb(options, method)
        known = self._targets[(name, method)] = (api, options, call_target(options, api=api))
        return known

    def call(
        self,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
    ) -> DownstreamResponse:
        """Send the configured request; the response comes back whatever its status."""
        return self._runner.run(self.request_step(None, name, overrides, content, json))

    async def call_async(
        self,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
    ) -> DownstreamResponse:
        return await self.request_async(None, name, overrides=overrides, content=content, json=json)

    get = _Verb("GET")
    post = _Verb("POST")
    put = _Verb("PUT")
    patch = _Verb("PATCH")
    delete = _Verb("DELETE")
    get_async = _AsyncVerb("GET")
    post_async = _AsyncVerb("POST")
    put_async = _AsyncVerb("PUT")
    patch_async = _AsyncVerb("PATCH")
    delete_async = _AsyncVerb("DELETE")

    def _lookup(self, name: str) -> tuple[str, DownstreamApiOptions]:
        found = self._apis.get(name.casefold())
        if found is None:
            known = ", ".join(self.names) or "none"
            raise ConfigurationError(
                [
                    ConfigurationProblem(
                        name,
                        f"downstream API {name!r} is not registered (registered: {known}); "
                        f"call TokenAcquirerFactory.add_downstream_api({name!r}) before build()",
                    )
                ]
            )
        return found
