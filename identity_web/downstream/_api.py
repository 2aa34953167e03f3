"""`DownstreamApi`: call a named, configured API as the application.

One method does the work, `request(method, name, …)` (and `request_async`, the same step on the
async driver); it returns a `DownstreamResponse` (status, headers, body) and never raises for an
HTTP status. `method=None` follows the section's `HttpMethod` and `RequestAppToken` as
configured (that is `call`); a method fixes the verb and always uses an application token (like
Identity.Web's `*ForApp*` methods). `get/post/put/patch/delete` (and `_async`) are one line each:
`request` with the verb, then the parsed body, raising `DownstreamApiError` for a non-2xx answer.
`response_model=` (on the verbs and on `request`) validates a 2xx body into a type
(`identity_web.downstream._model`).

The call is one step (`identity_web.downstream._flow.call_step`); see docs/downstream.md.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Mapping
from typing import Any, Protocol, TypeVar, cast, overload

from identity_web import _telemetry
from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.downstream._flow import HeaderSteps, call_step
from identity_web.downstream._model import read_model
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


M = TypeVar("M")


class VerbCall(Protocol):
    """`DownstreamApi.get/post/put/patch/delete`: the parsed body of a 2xx answer, or that body
    validated as `response_model` (typed as it)."""

    @overload
    def __call__(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
        response_model: None = None,
    ) -> Any: ...
    @overload
    def __call__(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
        response_model: type[M],
    ) -> M: ...


class AsyncVerbCall(Protocol):
    """The `_async` verbs: `VerbCall`, awaitable."""

    @overload
    def __call__(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
        response_model: None = None,
    ) -> Awaitable[Any]: ...
    @overload
    def __call__(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
        response_model: type[M],
    ) -> Awaitable[M]: ...


class _Method:
    def __init__(self, method: str) -> None:
        self.method = method


class _Verb(_Method):
    """A class attribute: `DownstreamApi.request` with the method filled in, then the parsed
    body of a 2xx answer, or that body validated as `response_model` (`DownstreamApiError` for
    another status)."""

    def __get__(self, api: DownstreamApi, owner: type | None = None) -> VerbCall:
        def verb(name: str, *, response_model: Any = None, **arguments: Any) -> Any:
            response = api.request(self.method, name, **arguments)
            return _body(response, response_model, name)

        return cast("VerbCall", verb)


class _AsyncVerb(_Method):
    def __get__(self, api: DownstreamApi, owner: type | None = None) -> AsyncVerbCall:
        async def verb(name: str, *, response_model: Any = None, **arguments: Any) -> Any:
            response = await api.request_async(self.method, name, **arguments)
            return _body(response, response_model, name)

        return cast("AsyncVerbCall", verb)


def _body(response: DownstreamResponse, response_model: Any, api: str) -> Any:
    if response_model is None:
        return response.raise_for_status().content()
    return read_model(response, response_model, api=api)


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

    @overload
    def request(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
        response_model: None = None,
    ) -> DownstreamResponse: ...
    @overload
    def request(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
        response_model: type[M],
    ) -> M: ...
    def request(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
        response_model: Any = None,
    ) -> Any:
        """Send a request to `name`; the response comes back whatever its status.

        `method=None`: the configured `HttpMethod` and `RequestAppToken`; a method: that verb
        with an application token. With `response_model`, the 2xx body validated as it instead
        (`DownstreamApiError` for another status, `ResponseValidationError` if it does not match).
        """
        response = self._runner.run(self.request_step(method, name, overrides, content, json))
        return (
            response if response_model is None else read_model(response, response_model, api=name)
        )

    @overload
    async def request_async(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
        response_model: None = None,
    ) -> DownstreamResponse: ...
    @overload
    async def request_async(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
        response_model: type[M],
    ) -> M: ...
    async def request_async(
        self,
        method: str | None,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
        response_model: Any = None,
    ) -> Any:
        """`request` for asyncio."""
        step = self.request_step(method, name, overrides, content, json)
        response = await self._runner.run_async(step)
        return (
            response if response_model is None else read_model(response, response_model, api=name)
        )

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
        step = call_step(options, body, api=api, headers=self._headers, target=target)
        return _telemetry.downstream(step, options, api=api)  # a span (OpenTelemetry)

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
        return await self._runner.run_async(self.request_step(None, name, overrides, content, json))

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
