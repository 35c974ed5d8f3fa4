"""Turning traces on: the OpenTelemetry SDK, the OTLP exporter and the instrumentation of
FastAPI, SQLAlchemy, httpx and aiokafka, configured by the standard `OTEL_*` variables.

Off unless an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) or `OTEL_TRACES_EXPORTER=otlp`; `OTEL_SDK_DISABLED=true`
or `OTEL_TRACES_EXPORTER=none` keeps it off. Off, nothing here is imported beyond this module,
nothing is instrumented, and the hub's own spans are the API's no-ops.

Every span leaves the process through `hub.observability.redaction.Redacted`: the
instrumentations record URLs, paths, query strings, message keys and SQL, any of which can
carry a person's identifiers (docs/tracing.md)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING

from opentelemetry import trace

from hub.errors import InvalidInput
from hub.observability import traces

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from sqlalchemy.ext.asyncio import AsyncEngine
    from starlette.applications import Starlette

__all__ = ["configure", "enabled", "install", "instrument_app", "instrument_engine", "uninstall"]


_state: dict[str, bool] = {"on": False}


def enabled(environ: Mapping[str, str] = os.environ) -> bool:
    """Whether the `OTEL_*` variables ask for traces to be exported."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter in ("", "otlp"):
        endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        return exporter == "otlp" or any(environ.get(name) for name in endpoints)
    if exporter == "none":
        return False
    raise InvalidInput(
        f"OTEL_TRACES_EXPORTER={exporter}: the hub exports traces over OTLP (otlp) or not at all "
        "(none)"
    )


def configure(environ: Mapping[str, str] = os.environ) -> bool:
    """Export traces over OTLP/HTTP if the `OTEL_*` variables ask for it (the exporter reads its
    endpoint, headers, timeout and compression from them; the resource its
    `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`). Whether tracing is now on."""
    if _state["on"] or not enabled(environ):
        return _state["on"]
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from hub import __version__
    from hub.observability.redaction import Redacted

    resource = Resource.create({"service.name": "public-protection-hub"}).merge(
        Resource.create({"service.version": __version__})
    )
    if environ.get("OTEL_SERVICE_NAME"):
        resource = resource.merge(Resource.create({"service.name": environ["OTEL_SERVICE_NAME"]}))
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(Redacted(OTLPSpanExporter())))
    install(provider)
    return True


def install(provider: TracerProvider) -> None:
    """Make `provider` the process's tracer provider and instrument httpx and aiokafka (their
    clients are patched at the class, whenever they were built). Engines and the app are
    instrumented as they are built (`instrument_engine`, `instrument_app`). Once a process."""
    if _state["on"]:
        return
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    trace.set_tracer_provider(provider)
    HTTPXClientInstrumentor().instrument()
    AIOKafkaInstrumentor().instrument()
    traces.carry(True)
    _state["on"] = True


def uninstall() -> None:
    """Undo `install`'s instrumentation of httpx and aiokafka, and instrument nothing more (a
    test that traced, leaving the process as it found it; the provider stays, its exporter is
    the caller's to shut down)."""
    if not _state["on"]:
        return
    from opentelemetry.instrumentation.aiokafka import AIOKafkaInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor().uninstrument()
    AIOKafkaInstrumentor().uninstrument()
    traces.carry(False)
    _state["on"] = False


def instrument_app(app: Starlette) -> None:
    """Server spans for the API's requests, named by route template, when tracing is on."""
    if not _state["on"]:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    # Without the per-message "receive"/"send" spans: two more spans a request, saying nothing.
    FastAPIInstrumentor.instrument_app(app, exclude_spans=["receive", "send"])  # type: ignore[arg-type]


def instrument_engine(engine: AsyncEngine) -> None:
    """A span for each statement on `engine`, when tracing is on. One engine at a time: the
    instrumentor's own `instrument(engine=...)` instruments only the first engine of a process
    (opentelemetry-python-contrib issue 3977), and the hub builds several."""
    if not _state["on"]:
        return
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeter

    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy")
    usage = NoOpMeter("hub").create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine.sync_engine, usage)  # type: ignore[no-untyped-call]
