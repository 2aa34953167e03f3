"""`DownstreamResponse` and how the typed helpers read a body or raise (pure)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from identity_web._errors import DownstreamApiError
from identity_web.protocol._binding import BindingCertificate
from identity_web.protocol._http import HttpResponse
from identity_web.protocol._tokens import TokenType

# Response headers whose values stay out of `DownstreamApiError` (they may carry session secrets).
_REDACTED_RESPONSE_HEADERS = frozenset({"set-cookie", "authorization", "proxy-authenticate"})
# Bytes of an error body decoded for the error message; the error keeps at most 4096 characters.
_ERROR_BODY_BYTES = 16 * 1024


@dataclass(frozen=True, slots=True)
class DownstreamResponse:
    """What a downstream API answered, whatever the status (`call` never raises for it).

    `token_type` is the scheme the request was authorized with (`Bearer`, `mtls_pop`) or None
    for an anonymous call; `binding_certificate` is the certificate a bound token went with.
    """

    status: int
    headers: Mapping[str, str]
    body: bytes = field(repr=False)
    url: str = ""
    token_type: TokenType | None = None
    binding_certificate: BindingCertificate | None = None

    @classmethod
    def from_http(
        cls,
        response: HttpResponse,
        *,
        url: str,
        token_type: TokenType | None,
        binding_certificate: BindingCertificate | None,
    ) -> DownstreamResponse:
        return cls(
            status=response.status,
            headers=response.headers,  # lower-cased names already (HttpResponse), not copied
            body=response.body,
            url=response.url or url,
            token_type=token_type,
            binding_certificate=binding_certificate,
        )

    @property
    def is_success(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        """The media type, lower-cased, without parameters (`application/json`)."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    @property
    def text(self) -> str:
        return self.body.decode(_charset(self.headers.get("content-type", "")), errors="replace")

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8-sig"))

    def raise_for_status(self) -> DownstreamResponse:
        """Raise `DownstreamApiError` (status, headers, body ≤ 4096 characters) unless 2xx;
        the response itself otherwise."""
        if self.is_success:
            return self
        headers = {
            name: ("[redacted]" if name in _REDACTED_RESPONSE_HEADERS else value)
            for name, value in self.headers.items()
        }
        body = self.body[:_ERROR_BODY_BYTES].decode("utf-8", errors="replace")
        raise DownstreamApiError(status=self.status, url=self.url, headers=headers, body=body)

    def content(self) -> Any:
        """The body as the typed helpers return it.

        JSON media types (`application/json`, `…+json`) → the parsed value; `text/*` or no media
        type → str; an empty body → None; anything else → the bytes as they came.
        """
        if not self.body:
            return None
        media = self.content_type
        if media == "application/json" or media.endswith("+json"):
            return self.json()
        if not media or media.startswith("text/"):
            return self.text
        return self.body


def _charset(content_type: str) -> str:
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            candidate = value.strip().strip('"')
            try:
                "".encode(candidate)
            except LookupError:
                break
            return candidate
    return "utf-8"
