"""Calling downstream APIs: `DownstreamApi` and what it returns.

Modules: `_api` (`DownstreamApi`: `request`/`request_async` and one-line verbs), `_flow` (the
call as one step, the header a sub-step), `_request` (building the request, the https guard),
`_options` (per-call overrides), `_headers` (extra headers), `_challenge` (401 claims
challenges), `_response` (`DownstreamResponse`).
"""

from identity_web.downstream._api import Content, DownstreamApi, Overrides, VerbCall
from identity_web.downstream._response import DownstreamResponse

__all__ = [
    "Content",
    "DownstreamApi",
    "DownstreamResponse",
    "Overrides",
    "VerbCall",
]
