"""RFC 9457 problem details for every error the API returns.

Each `hub.errors` class maps to one status and one problem type; field-level problems are listed
under `errors`, each with the JSON Pointer of the field that was wrong. No stack trace, SQL or
driver message ever reaches a response body.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub import errors

logger = logging.getLogger("hub.api")

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "urn:pph:problem:"
#: What every 503 tells the client to wait before trying again (RFC 9110 `Retry-After`): long
#: enough for a database restart or a broker's leader election, short enough that pushes resume
#: soon after. The request changed nothing, so the same request may simply be sent again.
RETRY_AFTER_SECONDS = 5

#: Most specific class first: the first match wins.
STATUS: list[tuple[type[errors.HubError], int, str]] = [
    (errors.UnknownEventType, 422, "unknown-event-type"),
    (errors.InvalidNotification, 422, "invalid-notification"),
    (errors.BatchRejected, 422, "batch-rejected"),
    (errors.PayloadTooLarge, 413, "payload-too-large"),
    (errors.UnsupportedMediaType, 415, "unsupported-media-type"),
    (errors.InvalidRequest, 422, "invalid-request"),
    (errors.InvalidInput, 400, "invalid-input"),
    (errors.StreamVersionConflict, 409, "stream-version-conflict"),
    (errors.EventIdReused, 409, "event-id-reused"),
    (errors.IdentifierConflict, 409, "identifier-conflict"),
    (errors.Conflict, 409, "conflict"),
    (errors.NotFound, 404, "not-found"),
    (errors.AuthenticationFailed, 401, "authentication-failed"),
    (errors.PermissionDenied, 403, "permission-denied"),
    (errors.TooManyRequests, 429, "too-many-requests"),
    (errors.StoreUnavailable, 503, "store-unavailable"),
    (errors.BusError, 503, "bus-unavailable"),
    (errors.StoreError, 500, "store-error"),
    (errors.HubError, 500, "hub-error"),
]


def problem_response(
    request: Request,
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if extra:
        body.update(extra)
    if status == 503:
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(error: errors.HubError) -> list[dict[str, Any]] | None:
    if isinstance(
        error,
        errors.InvalidNotification
        | errors.InvalidRequest
        | errors.MalformedJson
        | errors.PublisherNotEntitled,
    ):
        return [p.as_dict() for p in error.problems]
    if isinstance(error, errors.IdentifierConflict):
        # The schemes a second value was refused for; never a value another record holds.
        pointers = [f"/identifiers/{scheme}" for scheme in error.schemes] or ["/identifiers"]
        return [{"pointer": pointer, "detail": error.message} for pointer in pointers]
    if isinstance(error, errors.BatchRejected):
        return [
            {
                "index": item.index,
                "pointer": f"/{item.index}{item.problem.pointer}",
                "detail": item.problem.message,
            }
            for item in error.problems
        ]
    return None


async def hub_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, errors.HubError)
    status, slug = 500, "hub-error"
    for cls, cls_status, cls_slug in STATUS:
        if isinstance(error, cls):
            status, slug = cls_status, cls_slug
            break
    headers: dict[str, str] | None = None
    if isinstance(error, errors.AuthenticationFailed):
        message = error.message.replace('"', "'")
        headers = {
            "WWW-Authenticate": f'Bearer error="invalid_token", error_description="{message}"'
        }
    if isinstance(error, errors.TooManyRequests):
        headers = {"Retry-After": str(error.retry_after)}
    if status == 503:
        # Expected while the database or broker is away; the worker loop logs the outage too.
        logger.warning("request refused for now: %s", error)
    elif status >= 500:
        logger.error("request failed: %s", error, exc_info=error)
    extra: dict[str, Any] = {}
    field_errors = _field_errors(error)
    if field_errors is not None:
        extra["errors"] = field_errors
    if isinstance(error, errors.IdentifierConflict):
        extra["conflict"] = error.kind
        if error.review_id is not None:
            extra["review_id"] = error.review_id
    return problem_response(
        request, status, slug, error.title, error.message, extra=extra, headers=headers
    )


async def request_validation_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    field_errors = []
    for item in error.errors():
        location = [str(part) for part in item.get("loc", ())]
        pointer = "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in location)
        field_errors.append({"pointer": pointer, "detail": str(item.get("msg", "invalid"))})
    return problem_response(
        request,
        422,
        "invalid-request",
        "Invalid request",
        "the request's parameters are invalid: "
        + "; ".join(f"{e['pointer']}: {e['detail']}" for e in field_errors),
        extra={"errors": field_errors},
    )


async def http_error_handler(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    titles = {404: "Not found", 405: "Method not allowed", 415: "Unsupported media type"}
    title = titles.get(error.status_code, "HTTP error")
    detail = error.detail if isinstance(error.detail, str) else title
    if error.status_code == 404 and detail == "Not Found":
        detail = f"there is no resource at {request.url.path}"
    return problem_response(
        request,
        error.status_code,
        title.lower().replace(" ", "-"),
        title,
        detail,
        headers=dict(error.headers) if error.headers else None,
    )


async def unexpected_error_handler(request: Request, error: Exception) -> JSONResponse:
    logger.exception("unexpected error on %s %s", request.method, request.url.path)
    return problem_response(
        request, 500, "internal-error", "Internal error", "the hub failed to handle this request"
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.HubError, hub_error_handler)
    app.add_exception_handler(RequestValidationError, request_validation_handler)
    app.add_exception_handler(StarletteHTTPException, http_error_handler)
    app.add_exception_handler(Exception, unexpected_error_handler)
