"""Authority vs Instance + TenantId, as Identity.Web resolves them (pure functions).

* `Instance` is normalised to end with one `/` (a B2C `/tfp/` suffix is dropped).
* An `Authority` is split into an instance (scheme, host and port, then `/`) and a tenant
  (first path segment; a trailing `v2.0` segment is not a tenant). The literal `//v2.0`
  (what .NET computes from an empty Instance and TenantId) means "not set".
* A CIAM authority with no path (`https://contoso.ciamlogin.com`) gets the tenant
  `contoso.onmicrosoft.com`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

UNSET_AUTHORITY = "//v2.0"


def is_unset(value: str | None) -> bool:
    """True for None, blank text and the literal `//v2.0`."""
    return value is None or not value.strip() or value.strip() == UNSET_AUTHORITY


def check_url(value: str) -> str:
    """Return `value` if it is an absolute http(s) URL with a host, else raise ValueError."""
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("https", "http") or not parts.hostname:
        raise ValueError(
            "not an absolute http(s) URL with a host; expected e.g. "
            "'https://login.microsoftonline.com/'"
        )
    return value.strip()


def normalize_instance(instance: str) -> str:
    """`https://login.microsoftonline.com` → `https://login.microsoftonline.com/`."""
    text = instance.strip().rstrip("/")
    if text.lower().endswith("/tfp"):
        text = text[: -len("/tfp")]
    return text + "/"


def split_authority(authority: str) -> tuple[str, str | None]:
    """`https://login.microsoftonline.com/contoso/v2.0` → (`https://…com/`, `contoso`).

    Raises ValueError for a dSTS authority, which Identity.Web does not accept as `Authority`.
    """
    parts = urlsplit(authority.strip())
    instance = f"{parts.scheme.lower()}://{parts.netloc.lower()}/"  # hosts are case-insensitive
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments and segments[-1].lower() == "v2.0":
        segments.pop()
    if segments and segments[0].lower() == "dstsv2":
        raise ValueError(
            "a dSTS authority cannot be configured through 'Authority'; "
            "set 'Instance' and 'TenantId' instead"
        )
    if segments:
        return instance, segments[0]
    host = (parts.hostname or "").lower()
    if host.endswith(".ciamlogin.com"):
        return instance, f"{host.split('.')[0]}.onmicrosoft.com"
    return instance, None
