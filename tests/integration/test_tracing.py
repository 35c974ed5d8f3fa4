"""Traces (issue 17, docs/tracing.md): one trace from a push to its webhook, on both backends —
the API's server span, the store's append, the router's decision and the delivery worker's
attempt with its POST, which carries the trace to a real receiver — and no span attribute holds
anything of the notification pushed.

Tracing is turned on in this process with the SDK's in-memory exporter behind the same
`Redacted` exporter production uses, and off again after each test (its sampler then drops
every span). That nothing is traced when the `OTEL_*` variables ask for nothing is
tests/unit/test_tracing.py's, in a fresh process."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, TraceState, format_trace_id
from opentelemetry.util.types import Attributes

from hub.observability import tracing
from hub.observability.redaction import Redacted
from tests.conftest import Database
from tests.integration.api_helpers import running_hub
from tests.integration.test_webhooks import SOCIAL_WORK, hub_settings, push_release, subscribe
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio


class _Switch(Sampler):
    """Samples every span while on; none once off (the tests after these)."""

    on = False

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP
        return SamplingResult(decision, attributes if self.on else None)

    def get_description(self) -> str:
        return "tests/integration/test_tracing.py"


#: One provider for the process (OpenTelemetry sets the global provider once).
_SWITCH = _Switch()
_EXPORTER = InMemorySpanExporter()
_PROVIDER = TracerProvider(sampler=_SWITCH)
_PROVIDER.add_span_processor(SimpleSpanProcessor(Redacted(_EXPORTER)))


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    tracing.install(_PROVIDER)
    _SWITCH.on = True
    _EXPORTER.clear()
    try:
        yield _EXPORTER
    finally:
        _SWITCH.on = False
        tracing.uninstall()
        _EXPORTER.clear()


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


def values_of(document: Any) -> set[str]:
    """Every string and number in `document`, as text (not its keys: the schema's words)."""
    if isinstance(document, dict):
        return {v for x in document.values() for v in values_of(x)}
    if isinstance(document, list):
        return {v for x in document for v in values_of(x)}
    return {str(document)}


def one(spans: list[ReadableSpan], name: str, kind: SpanKind | None = None) -> ReadableSpan:
    found = [s for s in spans if s.name == name and (kind is None or s.kind == kind)]
    assert len(found) == 1, (name, [s.name for s in spans])
    return found[0]


async def test_one_trace_runs_from_the_push_to_the_webhook(
    database: Database, receiver: Receiver, exported: InMemorySpanExporter
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        await subscribe(hub, SOCIAL_WORK, receiver.url("/sw"))
        exported.clear()
        pushed = await push_release(hub)
        await receiver.wait_for(lambda: len(receiver.at("/sw")) >= 1)
        async with hub.container.engine.connect() as connection:
            stored = (
                await connection.execute(
                    sa.text("SELECT trace_context FROM events WHERE event_id = :id"),
                    {"id": pushed["id"]},
                )
            ).scalar_one()
    spans = list(exported.get_finished_spans())

    push = one(spans, "POST /v1/events", SpanKind.SERVER)
    trace_id = push.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    append = one(in_trace, "hub.store.append")
    route = one(in_trace, "hub.route")
    deliver = one(in_trace, "hub.deliver")
    post = one(in_trace, "POST", SpanKind.CLIENT)
    # push -> append (in the request) -> route and deliver (later, from the stored context)
    # -> the webhook's POST.
    assert append.parent is not None
    assert route.parent is not None
    assert deliver.parent is not None
    assert post.parent is not None
    assert route.parent.span_id == append.context.span_id
    assert deliver.parent.span_id == append.context.span_id
    assert post.parent.span_id == deliver.context.span_id
    assert stored.startswith(f"00-{format_trace_id(trace_id)}-{append.context.span_id:016x}-")
    assert any(s.attributes and "db.system" in s.attributes for s in in_trace)  # SQL spans
    assert (route.attributes or {})["hub.event.type"] == pushed["type"]
    assert (deliver.attributes or {})["hub.recipient.id"] == SOCIAL_WORK
    # The receiver was told the trace (W3C traceparent): its own spans can join it.
    assert receiver.at("/sw")[0].headers["traceparent"].split("-")[1] == format_trace_id(trace_id)

    # Nothing of the notification in any span: not its identifiers, id or values, not in the
    # URL of the push or of the webhook.
    secret = {v for v in values_of(pushed["identifiers"]) | values_of(pushed["data"]) if len(v) > 3}
    secret |= {pushed["id"], receiver.url("/sw")}
    assert secret
    for span in spans:
        said = [span.name, *map(str, (span.attributes or {}).values())]
        said += [str(v) for e in span.events for v in (e.attributes or {}).values()]
        leaked = [s for s in secret for text in said if s in text]
        assert not leaked, (span.name, leaked)
