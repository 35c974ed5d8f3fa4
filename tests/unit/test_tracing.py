"""Traces (docs/tracing.md): when the `OTEL_*` variables turn them on, what a span may carry out
of the process, the trace ids in log lines, and the carrier on the Kafka wire; and that with
them off the SDK is never imported and nothing is carried."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Status, StatusCode, Tracer

from hub.cli.logs import JsonLines, Text, stamp_trace_ids
from hub.errors import InvalidInput
from hub.observability.redaction import Redacted
from hub.observability.tracing import enabled
from hub.services.bus import event_headers, trace_context_of
from tests.integration.kafka.bus_contract import stored_event

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        (ENDPOINT, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({**ENDPOINT, "OTEL_TRACES_EXPORTER": "none"}, False),
        ({**ENDPOINT, "OTEL_SDK_DISABLED": "true"}, False),
    ],
)
def test_traces_are_on_only_when_the_otel_variables_ask(environ: dict[str, str], on: bool) -> None:
    assert enabled(environ) is on


def test_an_exporter_the_hub_lacks_is_refused_by_its_variable() -> None:
    with pytest.raises(InvalidInput, match="OTEL_TRACES_EXPORTER=zipkin"):
        enabled({**ENDPOINT, "OTEL_TRACES_EXPORTER": "zipkin"})


PROBE = """
import json, sys
import httpx
from hub.observability import traces, tracing
on = tracing.configure()
with traces.span("probe"):
    carried = traces.current_context()
wrapped = hasattr(httpx.AsyncHTTPTransport.handle_async_request, "__wrapped__")
print(json.dumps({"on": on, "carried": carried, "sdk": "opentelemetry.sdk" in sys.modules,
                  "httpx_instrumented": wrapped}))
sys.stdout.flush()
import os; os._exit(0)  # not the exporter's flush at exit (no collector here)
"""


def probe(**environ: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env={**env, **environ}, capture_output=True, check=True
    )
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def test_off_the_sdk_is_never_imported_and_nothing_is_carried() -> None:
    assert probe() == {"on": False, "carried": None, "sdk": False, "httpx_instrumented": False}


def test_on_spans_carry_a_traceparent_and_httpx_is_instrumented() -> None:
    answer = probe(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9")
    assert answer["on"] is True
    assert answer["httpx_instrumented"] is True
    assert isinstance(answer["carried"], str)
    assert answer["carried"].startswith("00-")


@pytest.fixture
def traced() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    """A provider of this test's own (not the process's), behind `Redacted`."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Redacted(exporter)))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def test_only_the_kept_attributes_leave_the_process(
    traced: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = traced
    with tracer.start_as_current_span("GET /v1/audit/persons/{person}/history") as span:
        span.set_attributes(
            {
                "http.route": "/v1/audit/persons/{person}/history",
                "http.target": "/v1/audit/persons/pnc_id:19%2F402117N/history?purpose=x",
                "url.full": "https://receiver.example/hook?token=s3cret",
                "db.statement": "SELECT * FROM persons WHERE value = '19/402117N'",
                "db.system": "postgresql",
                "messaging.kafka.message.key": "person-0001",
                "hub.event.type": "custody.transfer",
            }
        )
        span.record_exception(ValueError("no person 19/402117N"))
        span.set_status(Status(StatusCode.ERROR, "no person 19/402117N"))
    (exported,) = exporter.get_finished_spans()
    assert dict(exported.attributes or {}) == {
        "http.route": "/v1/audit/persons/{person}/history",
        "db.system": "postgresql",
        "hub.event.type": "custody.transfer",
    }
    (exception,) = exported.events
    assert dict(exception.attributes or {}) == {"exception.type": "ValueError"}
    assert exported.status.status_code is StatusCode.ERROR
    assert exported.status.description is None


def test_a_log_line_names_the_span_it_was_written_in(
    traced: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, _ = traced
    previous = logging.getLogRecordFactory()
    stamp_trace_ids()
    try:
        logger = logging.getLogger("hub.test")
        with tracer.start_as_current_span("work") as span:
            inside = logger.makeRecord("hub.test", logging.INFO, __file__, 1, "in", (), None)
        outside = logger.makeRecord("hub.test", logging.INFO, __file__, 1, "out", (), None)
    finally:
        logging.setLogRecordFactory(previous)
    context = span.get_span_context()
    line = json.loads(JsonLines().format(inside))
    assert line["trace_id"] == f"{context.trace_id:032x}"
    assert line["span_id"] == f"{context.span_id:016x}"
    assert f"[trace {context.trace_id:032x}]" in Text().format(inside)
    assert "trace_id" not in json.loads(JsonLines().format(outside))
    assert "[trace" not in Text().format(outside)


def test_the_trace_context_travels_in_a_traceparent_header() -> None:
    event = stored_event(42, person=7, version=3)
    assert trace_context_of(event_headers(event)) is None
    traced = replace(event, trace_context="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
    headers = event_headers(traced)
    assert ("traceparent", traced.trace_context.encode()) in headers  # type: ignore[union-attr]
    # The aiokafka instrumentation appends its send span's: the stored one comes first.
    later = ("traceparent", b"00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01")
    assert trace_context_of([*headers, later]) == traced.trace_context
