"""Calling downstream APIs: `DownstreamApi` and what it returns.

Modules: `_api` (`DownstreamApi`: `request`/`request_async` and one-line verbs), `_flow` (the
call as one step, the header a sub-step), `_request` (building the request, the https guard),
`_options` (per-call overrides), `_headers` (extra headers), `_challenge` (401 claims
challenges), `_response` (`DownstreamResponse`), `_model` (`response_model=` validation).
"""

from identity_web.downstream._api import AsyncVerbCall, Content, DownstreamApi, Overrides, VerbCall
from identity_web.downstream._model import ResponseValidationError
from identity_web.downstream._response import DownstreamResponse

__all__ = [
    "AsyncVerbCall",
    "Content",
    "DownstreamApi",
    "DownstreamResponse",
    "Overrides",
    "ResponseValidationError",
    "VerbCall",
]
