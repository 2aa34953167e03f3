"""The expiry policy: how close to its end a token, an assertion or a certificate is still used.

Three margins, one per kind of thing that expires, all in seconds:

* `TOKEN_MARGIN` — an access token is not handed out from the cache within 5 minutes of its
  expiry (MSAL's margin), so it does not expire on the way to the resource;
* `ASSERTION_MARGIN` — a client assertion (a FIC leg-1 token, a projected token file) is
  renewed 5 minutes before its `exp`, and a bound assertion also 5 minutes before its
  certificate ends;
* `CERTIFICATE_MARGIN` — an IMDS v2 binding certificate is reused only while more than a day
  of validity remains.
"""

from __future__ import annotations

TOKEN_MARGIN = 300.0
ASSERTION_MARGIN = 300.0
CERTIFICATE_MARGIN = 24 * 3600.0


def usable(expires_on: float, now: float, margin: float) -> bool:
    """Whether something ending at `expires_on` may still be used at `now` with `margin`."""
    return now < expires_on - margin
