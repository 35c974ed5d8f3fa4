"""Request ids and the access log.

Every request gets an id: the caller's `X-Request-ID` when it is a plain token of up to 128
characters, otherwise a new one. It is echoed in the answer's `X-Request-ID`, set in
`REQUEST_ID` for every log record written while the request is handled, and written with the
access line. The access line names the route's template (`/v1/audit/persons/{person}/history`),
never the path as sent or its query string: those carry people's identifiers."""

from __future__ import annotations

import logging
import re
import time
import uuid
from contextvars import ContextVar
from typing import Any, Final

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)
HEADER: Final = "x-request-id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:@+=\-]{1,128}")

access = logging.getLogger("hub.access")


def stamp_records() -> None:
    """Every LogRecord created from now on carries `request_id` (None outside a request), taken
    when it is created: a handler that formats later, on another task, still has it."""
    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_request_ids", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        record.request_id = REQUEST_ID.get()
        return record

    factory.stamps_request_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def request_id_from(scope: Scope) -> str:
    """The caller's request id if it is safe to log and echo, else a new one."""
    for name, value in scope.get("headers", ()):
        if name == HEADER.encode():
            text = bytes(value).decode("latin-1")
            if _ACCEPTED.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def route_template(scope: Scope) -> str:
    """The matched route's path template, or a fixed word: never the path as sent."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        match, _ = candidate.matches(scope)
        if match is Match.FULL:
            found = getattr(candidate, "path", None)
            if isinstance(found, str):
                return found
    return "(no route)"


class RequestLog:
    """ASGI middleware: the request id, echoed and logged, and one access line per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(n, v) for n, v in message.get("headers", []) if n != HEADER.encode()]
                message = {**message, "headers": [*headers, (HEADER.encode(), request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            access.info(
                "%s %s %s",
                scope.get("method", "?"),
                route_template(scope),
                status or 500,
                extra={
                    "method": scope.get("method"),
                    "route": route_template(scope),
                    "status": status or 500,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            REQUEST_ID.reset(token)
