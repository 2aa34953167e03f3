"""`response_model=`: a downstream answer's body validated into a caller's type (pure).

Any type pydantic's `TypeAdapter` accepts will do (a model, a dataclass, `list[Item]`, a
`TypedDict`). A failure becomes `ResponseValidationError`, which names the API and each field
path with pydantic's message, and nothing of the values: a body may echo anything, and pydantic's
own error text quotes the input, so it is not chained either.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, get_origin

from pydantic import TypeAdapter, ValidationError

from identity_web._errors import IdentityWebError
from identity_web.downstream._response import DownstreamResponse
from identity_web.protocol._http import redact_url


class ResponseValidationError(IdentityWebError):
    """A downstream API's 2xx body does not match the `response_model` the call asked for.

    `problems` holds (field path, message) pairs, e.g. `("items.0.price", "Input should be a
    valid number")`; the values themselves are never kept.
    """

    def __init__(
        self, *, api: str, url: str, model: str, problems: tuple[tuple[str, str], ...]
    ) -> None:
        self.api = api
        self.url = url
        self.model = model
        self.problems = problems
        listed = "; ".join(f"{path or '(body)'}: {message}" for path, message in problems)
        super().__init__(
            f"the answer of downstream API {api!r} ({url}) does not match {model}: {listed}"
        )


def read_model(response: DownstreamResponse, model: Any, *, api: str) -> Any:
    """The 2xx body of `response` validated as `model` (`DownstreamApiError` if not 2xx)."""
    value = response.raise_for_status().content()
    try:
        return _adapter(model).validate_python(value)
    except ValidationError as error:
        problems = tuple(
            (".".join(str(part) for part in detail["loc"]), detail["msg"])
            for detail in error.errors(include_url=False, include_input=False)
        )
        raise ResponseValidationError(
            api=api, url=redact_url(response.url), model=_name(model), problems=problems
        ) from None


def _adapter(model: Any) -> TypeAdapter[Any]:
    try:
        return _cached_adapter(model)
    except TypeError:  # an unhashable type form: build it each time
        return TypeAdapter(model)


@lru_cache(maxsize=256)
def _cached_adapter(model: Any) -> TypeAdapter[Any]:
    return TypeAdapter(model)


def _name(model: Any) -> str:
    plain = isinstance(model, type) and get_origin(model) is None
    return model.__qualname__ if plain else repr(model)
