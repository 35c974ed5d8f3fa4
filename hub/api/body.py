"""Reading a JSON request body safely: media type, size limit, strict JSON."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from hub.errors import InvalidInput, PayloadTooLarge, UnsupportedMediaType

JSON_MEDIA_TYPES = frozenset(
    {"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"}
)


async def read_json(request: Request, max_bytes: int) -> object:
    """The parsed body, or a clear error: wrong media type (415), too large (413), or not
    strict JSON (400; duplicate keys and NaN/Infinity are refused as ambiguous)."""
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in JSON_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"Content-Type must be application/json or application/cloudevents+json, "
            f"not {media_type or 'missing'}"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the body is over the limit of {max_bytes} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"the body is not UTF-8 (byte {error.start})") from error
    if not text.strip():
        raise InvalidInput("the body is empty; a JSON document was expected")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"the body is not valid JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from error


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidInput(f"the body is not valid JSON: the key {key!r} appears twice")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise InvalidInput(f"the body is not valid JSON: {name} is not a JSON number")
