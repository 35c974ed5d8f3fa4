"""What may leave the process in a span: only the attributes named in `KEPT` (and the hub's
own `hub.*`), on the span, its events and its links, and no status description. The
instrumentations record URLs, paths with their parameters, query strings, Kafka message keys
and SQL; any of them can carry a person's identifiers, so the rule is a list of what is kept,
not of what is dropped (docs/tracing.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import Link, Status

__all__ = ["KEPT", "Redacted"]

#: The attributes that may leave the process: what was done and how it went, never to whom.
KEPT: Final = frozenset(
    {
        # HTTP, server and client (old and stable semantic conventions): never the URL or path.
        "http.method",
        "http.request.method",
        "http.route",
        "http.status_code",
        "http.response.status_code",
        "http.scheme",
        "url.scheme",
        "http.flavor",
        "network.protocol.version",
        "server.address",
        "server.port",
        "error.type",
        # Databases: the system and operation, never the statement.
        "db.system",
        "db.system.name",
        "db.name",
        "db.namespace",
        "db.operation",
        "db.operation.name",
        "net.peer.name",
        "net.peer.port",
        # Kafka: the topic and partition, never the key (a person's id).
        "messaging.system",
        "messaging.operation",
        "messaging.operation.type",
        "messaging.destination",
        "messaging.destination.name",
        "messaging.destination.partition.id",
        "messaging.kafka.partition",
        "messaging.kafka.destination.partition",
        # An exception event: its type, never its message.
        "exception.type",
    }
)
_OWN: Final = "hub."


class Redacted(SpanExporter):
    """A `SpanExporter` that hands `exporter` each span with only the `KEPT` (and `hub.*`)
    attributes, on the span, its events and its links, and no status description (an
    exception's message)."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._exporter.export([_redacted(span) for span in spans])

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def _kept(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (attributes or {}).items() if k in KEPT or k.startswith(_OWN)}


def _redacted(span: ReadableSpan) -> ReadableSpan:
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=_kept(span.attributes),
        events=[Event(e.name, _kept(e.attributes), e.timestamp) for e in span.events],
        links=[Link(link.context, _kept(link.attributes)) for link in span.links],
        kind=span.kind,
        status=Status(span.status.status_code),
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
