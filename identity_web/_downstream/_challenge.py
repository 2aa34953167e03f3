"""Claims challenges in `WWW-Authenticate` (Continuous Access Evaluation), parsed without I/O."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re

from identity_web.protocol._http import HttpResponse

logger = logging.getLogger(__name__)

# auth-param = token "=" ( token / quoted-string )   (RFC 9110 §11.2)
_AUTH_PARAM = re.compile(r'([A-Za-z0-9_.-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,"]+))')


def www_authenticate_params(header: str) -> dict[str, str]:
    """Every `name=value` auth-param of a `WWW-Authenticate` value, names lower-cased.

    Several challenges joined by commas are read as one list; the first occurrence wins.
    """
    params: dict[str, str] = {}
    for match in _AUTH_PARAM.finditer(header):
        name = match.group(1).lower()
        quoted, token = match.group(2), match.group(3)
        value = re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else token
        params.setdefault(name, value)
    return params


def decode_claims(value: str) -> str | None:
    """The claims JSON of a challenge: base64 (standard or url-safe, padding optional) or raw JSON.

    Returns None when the value is neither, so no retry is attempted on garbage.
    """
    text = value.strip()
    if text.startswith("{"):
        return text if _is_json_object(text) else None
    padded = text + "=" * (-len(text) % 4)
    try:
        decoded = base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
        claims = decoded.decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return claims if _is_json_object(claims) else None


def claims_challenge(response: HttpResponse) -> str | None:
    """The decoded claims of a 401 claims challenge, else None."""
    if response.status != 401:
        return None
    params = www_authenticate_params(response.header("www-authenticate"))
    raw = params.get("claims")
    if not raw:
        return None
    claims = decode_claims(raw)
    if claims is None:
        logger.warning("401 carries a claims challenge that is not base64 JSON; not retrying")
    return claims


def _is_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except ValueError:
        return False
