"""How every `hub` process logs: to stderr, at `HUB_LOG_LEVEL` (`debug` for the hub's own
loggers only), as JSON lines or text
(`HUB_LOG_FORMAT`), each record with the id of the request it belongs to and, when traces are on
(docs/tracing.md), the trace and span it was written in. uvicorn's loggers go
through the same handler (its own access log is off: `hub.api.request_log` writes one without
the query string). Alembic says what it does only while migrating."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Final

from hub.api.request_log import REQUEST_ID, stamp_records
from hub.settings import Settings

#: The attributes every LogRecord has; anything else on a record was passed as `extra`.
_STANDARD: Final = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
QUIET_UNLESS_MIGRATING: Final = ("alembic",)
#: httpx logs every webhook request's URL at INFO (a receiver's URL may carry its own token).
QUIET: Final = ("httpx", "httpcore")
#: `extra` fields left out of JSON lines: uvicorn's copy of its message with ANSI colour codes.
_NOT_LOGGED: Final = frozenset({"color_message"})


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, request_id
    when in a request, the `extra` fields, and the exception's traceback if any."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for key in ("trace_id", "span_id"):
            if getattr(record, key, None) is not None:
                entry[key] = getattr(record, key)
        for key, value in record.__dict__.items():
            fresh = (
                key not in _STANDARD
                and key not in _NOT_LOGGED
                and not key.startswith("_")
                and key not in entry
            )
            if fresh and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class Text(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id is not None:
            line = f"{line} [request {request_id}]"
        trace_id = getattr(record, "trace_id", None)
        return line if trace_id is None else f"{line} [trace {trace_id}]"


def stamp_trace_ids() -> None:
    """Every LogRecord created from now on carries `trace_id` and `span_id` (hex, as trace
    backends show them) of the recorded span active where it was written, None outside one
    (always, with traces off: the API's no-op span is never recorded)."""
    from opentelemetry import trace  # when logging is set up, not when the CLI starts

    previous = logging.getLogRecordFactory()
    if getattr(previous, "stamps_trace_ids", False):
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        span = trace.get_current_span()
        context = span.get_span_context()
        # Only a span that is recorded: the ids of one the sampler dropped lead nowhere.
        recorded = context.is_valid and span.is_recording()
        record.trace_id = trace.format_trace_id(context.trace_id) if recorded else None
        record.span_id = trace.format_span_id(context.span_id) if recorded else None
        return record

    factory.stamps_trace_ids = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure(settings: Settings, *, migrating: bool = False) -> None:
    """Replace whatever handlers the root logger has with one on stderr."""
    stamp_records()
    stamp_trace_ids()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines() if settings.log_format == "json" else Text())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    level = logging.getLevelName(settings.log_level.upper())
    # `debug` is the hub's own: drivers' debug lines carry the statements' parameters, which
    # are people's identifiers.
    root.setLevel(max(level, logging.INFO))
    logging.getLogger("hub").setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in QUIET_UNLESS_MIGRATING:
        logging.getLogger(name).setLevel(logging.INFO if migrating else logging.WARNING)
