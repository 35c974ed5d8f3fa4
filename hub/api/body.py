"""Reading a JSON request body safely: media type, size limit, strict and bounded JSON
(`hub.domain.safe_json`)."""

from __future__ import annotations

from typing import TypeVar

from fastapi import Request
from pydantic import BaseModel, ValidationError

from hub.domain import safe_json
from hub.errors import (
    FieldProblem,
    InvalidInput,
    InvalidRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
)

Model = TypeVar("Model", bound=BaseModel)

JSON_MEDIA_TYPES = frozenset(
    {"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"}
)


async def read_json(request: Request, max_bytes: int) -> object:
    """The parsed body, or a clear error: wrong media type (415), too large (413), or not
    strict, bounded JSON (400 naming the field: duplicate keys and NaN/Infinity are refused as
    ambiguous; nesting, number size and characters as `safe_json` bounds them)."""
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
    return safe_json.loads(text, what="the body")


def parse_body(model: type[Model], raw: object) -> Model:
    """The body as `model`, or InvalidRequest (422) naming each wrong field by its JSON
    Pointer."""
    if not isinstance(raw, dict):
        raise InvalidRequest("the body must be a JSON object", [FieldProblem("", "not an object")])
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        found = [
            FieldProblem(
                "/"
                + "/".join(str(part).replace("~", "~0").replace("/", "~1") for part in e["loc"]),
                e["msg"],
            )
            for e in error.errors()
        ]
        raise InvalidRequest(
            "the body is invalid: " + "; ".join(f"{p.pointer}: {p.message}" for p in found),
            found,
        ) from None
