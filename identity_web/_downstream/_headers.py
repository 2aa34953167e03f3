"""Which extra headers a configured downstream request may carry (pure)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

logger = logging.getLogger(__name__)

# Headers a configuration must never set on a downstream request: credentials, host routing and
# the identity headers front ends (App Service Easy Auth, proxies) inject. Compared lower-cased.
RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "cookie",
        "host",
        "x-original-url",
        "x-ms-client-principal",
        "x-ms-client-principal-id",
        "x-ms-client-principal-name",
        "x-ms-client-principal-idp",
    }
)
RESERVED_PREFIXES = ("x-forwarded-", "x-ms-token-")


def is_reserved_header(name: str) -> bool:
    """True for a header name `ExtraHeaderParameters` may not set (case-insensitive)."""
    lowered = name.strip().lower()
    return lowered in RESERVED_HEADERS or lowered.startswith(RESERVED_PREFIXES)


def merge_extra_headers(
    present: Mapping[str, str], extra: Mapping[str, str] | None, *, api: str
) -> dict[str, str]:
    """`present` plus the allowed `extra` headers.

    Reserved names and names already present (case-insensitively, including earlier extras) are
    skipped with a warning that names the header but never its value.
    """
    merged = dict(present)
    seen = {name.lower() for name in merged}
    for name, value in (extra or {}).items():
        lowered = name.lower()
        if is_reserved_header(name):
            logger.warning("%s: reserved header %r in ExtraHeaderParameters ignored", api, name)
        elif lowered in seen:
            logger.warning("%s: duplicate header %r in ExtraHeaderParameters ignored", api, name)
        else:
            merged[name] = value
            seen.add(lowered)
    return merged
