"""Reading the JSON inside a compact JWS (an access token, a client assertion) before any JOSE
library does: with the hub's bounded parser (`hub.domain.safe_json`), so a token nested a
thousand deep is malformed rather than a RecursionError; and the time claims range-checked, so
`exp=10**30` is refused rather than overflowing a datetime."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from typing import Any, Final

from hub.domain import safe_json
from hub.errors import InvalidInput

#: RFC 7519 NumericDate claims.
TIME_CLAIMS: Final = ("exp", "iat", "nbf")
#: 9999-12-31T23:59:59Z, the last second a Python datetime can hold.
LATEST_NUMERIC_DATE: Final = 253_402_300_799


class MalformedJose(ValueError):
    """The token is not three base64url parts whose first two are bounded JSON objects."""


def compact_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The protected header and the payload of a compact JWS, parsed safely but NOT verified."""
    parts = token.split(".")
    if len(parts) != 3:
        raise MalformedJose("a compact JWS has three parts")
    header, payload = _json_object(parts[0]), _json_object(parts[1])
    return header, payload


def out_of_range_time_claim(claims: Mapping[str, Any]) -> str | None:
    """The first of `exp`, `iat`, `nbf` present that is not a NumericDate between 1970 and
    9999 (a boolean is not a number here), or None."""
    for name in TIME_CLAIMS:
        if name not in claims:
            continue
        value = claims[name]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return name
        if not (math.isfinite(value) and 0 <= value <= LATEST_NUMERIC_DATE):
            return name
    return None


def _json_object(part: str) -> dict[str, Any]:
    try:
        text = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)).decode("utf-8")
        parsed = safe_json.loads(text)
    except (binascii.Error, ValueError, InvalidInput) as error:
        raise MalformedJose(str(error)) from error
    if not isinstance(parsed, dict):
        raise MalformedJose("a JWS header or payload is a JSON object")
    return parsed
