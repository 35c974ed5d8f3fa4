"""The hub's own spans, and the trace context an event carries from its push to its webhook.

Only the OpenTelemetry *API* is used here: until `hub.observability.tracing` installs an SDK
(an OTLP endpoint set in the standard `OTEL_*` variables), every call is the API's no-op and
`current_context` gives None, so nothing is stored or sent.

The carrier is the W3C `traceparent` header value (`00-<trace id>-<span id>-<flags>`): stored
with the event (`events.trace_context`), sent as a Kafka header, read back by the router and
the delivery worker, which continue the push's trace. It holds two random ids and nothing
about the notification.

Attributes name what the hub did, never whom it concerned: the event type, the store position,
the recipient's id, counts. Never a person's identifiers, a notification's values or a URL (the
exporter drops any other attribute anyway: `hub.observability.tracing`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Final

from opentelemetry import context, propagate, trace
from opentelemetry.util.types import AttributeValue

__all__ = ["TRACEPARENT", "carry", "continued", "current_context", "span"]

#: The W3C Trace Context header, the name the carrier has wherever it travels.
TRACEPARENT: Final = "traceparent"

_tracer = trace.get_tracer("hub")
#: Whether the hub stores and sends trace contexts: set by `hub.observability.tracing` as it
#: turns traces on (and off again, in tests).
_carrying = {"on": False}


def carry(on: bool) -> None:
    """Store and send trace contexts from now on (`on`), or stop."""
    _carrying["on"] = on


def current_context() -> str | None:
    """The active span's `traceparent` (its sampling decision with it: a trace the sampler
    dropped stays dropped downstream), or None with tracing off or outside a span."""
    if not _carrying["on"] or not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get(TRACEPARENT)


@contextmanager
def span(name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[None]:
    """A span named `name` around the block, a child of the active one."""
    with _tracer.start_as_current_span(name, attributes=attributes):
        yield


@contextmanager
def continued(
    name: str,
    traceparent: str | None,
    attributes: Mapping[str, AttributeValue] | None = None,
    *,
    kind: trace.SpanKind = trace.SpanKind.INTERNAL,
) -> Iterator[None]:
    """A span named `name` around the block in the trace `traceparent` names (the span that
    stored the event, in whatever process that was); a new trace when it is None or not a
    valid `traceparent`."""
    parent = context.Context() if traceparent is None else _extracted(traceparent)
    with _tracer.start_as_current_span(name, context=parent, kind=kind, attributes=attributes):
        yield


def _extracted(traceparent: str) -> context.Context:
    return propagate.extract({TRACEPARENT: traceparent}, context=context.Context())
