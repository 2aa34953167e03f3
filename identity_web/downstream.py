"""`DownstreamApi`: call a named, configured API as the application.

Two styles, each with an async twin:

* `call(name, …)` returns a `DownstreamResponse` (status, headers, body) and never raises for
  an HTTP status. It follows the section's `HttpMethod` and `RequestAppToken` as configured.
* `get/post/put/patch/delete(name, …)` fix the verb, always use an application token (like
  Identity.Web's `*ForApp*` methods), return the parsed body and raise `DownstreamApiError`
  for a non-2xx answer.

All of them share one sans-IO flow (`identity_web._downstream._flow`); see docs/downstream.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from identity_web._downstream._flow import (
    CallFlow,
    HeaderProvider,
    Sender,
    call_flow,
    run_call,
    run_call_async,
)
from identity_web._downstream._options import apply_overrides, for_app_verb
from identity_web._downstream._request import encode_body
from identity_web._downstream._response import DownstreamResponse
from identity_web._errors import ConfigurationError, ConfigurationProblem
from identity_web.settings import DownstreamApiOptions

logger = logging.getLogger(__name__)

Overrides = Mapping[str, Any]
"""A per-call override: Identity.Web keys, e.g. `{"RelativePath": "items/1"}`."""
Content = bytes | str | None
"""A raw request body (str is sent as UTF-8); `json=` is the other way to give one."""

__all__ = ["Content", "DownstreamApi", "DownstreamResponse", "Overrides"]


class DownstreamApi:
    """Calls the downstream APIs it was given, by name (case-insensitive)."""

    def __init__(
        self,
        apis: Mapping[str, DownstreamApiOptions],
        header_provider: HeaderProvider,
        transport: Sender,
    ) -> None:
        self._apis = {name.casefold(): (name, options) for name, options in apis.items()}
        self._headers = header_provider
        self._transport = transport

    @property
    def names(self) -> tuple[str, ...]:
        """The registered downstream API names."""
        return tuple(name for name, _ in self._apis.values())

    def options(self, name: str) -> DownstreamApiOptions:
        """The configured options of `name` (frozen; overrides never change them)."""
        return self._lookup(name)[1]

    def call(
        self,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
    ) -> DownstreamResponse:
        """Send the configured request; the response comes back whatever its status."""
        return run_call(self._flow(name, overrides, content, json), self._headers, self._transport)

    async def call_async(
        self,
        name: str,
        *,
        overrides: Overrides | None = None,
        content: Content = None,
        json: Any = None,
    ) -> DownstreamResponse:
        flow = self._flow(name, overrides, content, json)
        return await run_call_async(flow, self._headers, self._transport)

    def get(self, name: str, *, overrides: Overrides | None = None) -> Any:
        """GET as the application; the parsed body (JSON, text, bytes or None)."""
        return self._typed("GET", name, overrides, None, None)

    def post(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return self._typed("POST", name, overrides, content, json)

    def put(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return self._typed("PUT", name, overrides, content, json)

    def patch(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return self._typed("PATCH", name, overrides, content, json)

    def delete(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return self._typed("DELETE", name, overrides, content, json)

    async def get_async(self, name: str, *, overrides: Overrides | None = None) -> Any:
        return await self._typed_async("GET", name, overrides, None, None)

    async def post_async(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return await self._typed_async("POST", name, overrides, content, json)

    async def put_async(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return await self._typed_async("PUT", name, overrides, content, json)

    async def patch_async(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return await self._typed_async("PATCH", name, overrides, content, json)

    async def delete_async(
        self,
        name: str,
        *,
        json: Any = None,
        content: Content = None,
        overrides: Overrides | None = None,
    ) -> Any:
        return await self._typed_async("DELETE", name, overrides, content, json)

    def _typed(
        self, method: str, name: str, overrides: Overrides | None, content: Content, json: Any
    ) -> Any:
        flow = self._flow(name, overrides, content, json, method=method)
        response = run_call(flow, self._headers, self._transport)
        response.raise_for_status()
        return response.content()

    async def _typed_async(
        self, method: str, name: str, overrides: Overrides | None, content: Content, json: Any
    ) -> Any:
        flow = self._flow(name, overrides, content, json, method=method)
        response = await run_call_async(flow, self._headers, self._transport)
        response.raise_for_status()
        return response.content()

    def _flow(
        self,
        name: str,
        overrides: Overrides | None,
        content: Content,
        json: Any,
        *,
        method: str | None = None,
    ) -> CallFlow:
        api, configured = self._lookup(name)
        options = apply_overrides(configured, overrides, api=api)
        if method is not None:
            options = for_app_verb(options, method)
        body = encode_body(content=content, json_value=json, content_type=options.content_type)
        return call_flow(options, body, api=api)

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
