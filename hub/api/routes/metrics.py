"""`GET /metrics`: how much is disclosed, delivered and acknowledged, and how late, in the
Prometheus text format.

Computed from the database at every scrape (a fresh registry each time), so any process of a
scaled-out hub gives the same figures. Labels are recipient ids (organisations in the
directory) and event types, never a person or anything about one: that is why the endpoint can
be scraped without a token.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from hub.api.deps import ContainerDep
from hub.api.openapi import problems
from hub.api.router_lag import RouterLagCollector
from hub.errors import StoreUnavailable
from hub.services.latency import DeliveryMetrics, Histogram
from hub.services.worker import WorkerLoop, WorkerState, WorkerStatus

router = APIRouter(tags=["metrics"])

LABELS = ["recipient", "event_type"]


@router.get(
    "/metrics",
    response_class=Response,
    operation_id="getMetrics",
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus text",
        },
        **problems(authenticated=False, database=False),
    },
)
async def metrics(request: Request, container: ContainerDep) -> Response:
    """Counters, latency histograms and the overdue gauge, per recipient and event type; the
    state, retries and lag of each background worker of this process.

    While the database is unavailable the workers' figures are still given (they matter most
    then), the database's are left out, and `pph_database_up` is 0."""
    registry = CollectorRegistry(auto_describe=False)
    try:
        registry.register(DeliveryCollector(await container.latency.metrics()))
        registry.register(RouterLagCollector(await container.router_lag()))
        database_up = True
    except StoreUnavailable:
        database_up = False
    loops: dict[str, WorkerLoop] = getattr(request.app.state, "workers", {})
    statuses = []
    for loop in loops.values():
        if database_up:
            await loop.measure_lag()
        statuses.append(loop.status())
    registry.register(WorkerCollector(statuses, database_up))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


#: Every state a worker can be in, each a series of `pph_worker_state` (the enum pattern).
WORKER_STATES: tuple[WorkerState, ...] = ("starting", "running", "retrying", "stopped", "failed")


class WorkerCollector(Collector):
    """The background workers of this process, and whether the database answered."""

    def __init__(self, statuses: list[WorkerStatus], database_up: bool) -> None:
        self._statuses = sorted(statuses, key=lambda s: s.name)
        self._database_up = database_up

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pph_database_up", "Whether the database answered this scrape")
        up.add_metric([], 1.0 if self._database_up else 0.0)
        yield up
        state = GaugeMetricFamily(
            "pph_worker_state", "1 for the state each worker is in", labels=["worker", "state"]
        )
        since = GaugeMetricFamily(
            "pph_worker_state_since_seconds",
            "When each worker entered its state (Unix time)",
            labels=["worker"],
        )
        retries = CounterMetricFamily(
            "pph_worker_retries", "Transient failures retried since start", labels=["worker"]
        )
        failures = GaugeMetricFamily(
            "pph_worker_consecutive_failures",
            "Failures in a row of the current retry spell (0 unless retrying)",
            labels=["worker"],
        )
        lag = GaugeMetricFamily(
            "pph_worker_lag",
            "Work the worker has still to do (events behind the store), where it can tell",
            labels=["worker"],
        )
        for status in self._statuses:
            for name in WORKER_STATES:
                state.add_metric([status.name, name], 1.0 if status.state == name else 0.0)
            since.add_metric([status.name], status.since.timestamp())
            retries.add_metric([status.name], status.retries)
            failures.add_metric([status.name], status.failures)
            if status.lag is not None:
                lag.add_metric([status.name], status.lag)
        yield from (state, since, retries, failures, lag)


class DeliveryCollector(Collector):
    """The metric families of one `DeliveryMetrics` snapshot."""

    def __init__(self, snapshot: DeliveryMetrics) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterator[Metric]:
        s = self._snapshot
        yield _counter("pph_disclosures", "Disclosures decided", s.disclosures)
        yield _counter(
            "pph_disclosure_deliveries",
            "Disclosures that reached their recipient, by the channel that got there first",
            s.delivered,
            [*LABELS, "channel"],
        )
        yield _counter(
            "pph_disclosure_acknowledgements", "Disclosures acknowledged", s.acknowledged
        )
        yield _counter(
            "pph_overdue_escalations",
            "Disclosures escalated as not acknowledged in time (disclosure.overdue)",
            s.escalated,
        )
        gauge = GaugeMetricFamily(
            "pph_disclosures_overdue_unacknowledged",
            "Disclosures past their acknowledgement time and not acknowledged",
            labels=LABELS,
        )
        for labels, value in sorted(s.overdue_unacknowledged.items()):
            gauge.add_metric(list(labels), value)
        yield gauge
        yield _histogram(
            "pph_disclosure_event_to_decision_seconds",
            "From the occurrence (the notification's time) to the disclosure decision",
            s.event_to_decision,
        )
        yield _histogram(
            "pph_disclosure_intake_to_decision_seconds",
            "From the hub storing the notification to the disclosure decision",
            s.intake_to_decision,
        )
        yield _histogram(
            "pph_disclosure_decision_to_delivery_seconds",
            "From the disclosure decision to its first delivery to the recipient",
            s.decision_to_delivery,
        )
        yield _histogram(
            "pph_disclosure_decision_to_acknowledgement_seconds",
            "From the disclosure decision to the recipient's acknowledgement",
            s.decision_to_acknowledgement,
        )


def _counter(
    name: str,
    documentation: str,
    values: Mapping[Any, int],
    labels: list[str] | None = None,
) -> CounterMetricFamily:
    family = CounterMetricFamily(name, documentation, labels=labels or LABELS)
    for key, value in sorted(values.items()):
        family.add_metric(list(key), value)
    return family


def _histogram(name: str, documentation: str, histogram: Histogram) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, documentation, labels=LABELS)
    for key, series in sorted(histogram.series.items()):
        buckets = [
            (_bound(bound), float(count))
            for bound, count in zip(histogram.buckets, series.cumulative, strict=True)
        ]
        buckets.append(("+Inf", float(series.count)))
        family.add_metric(list(key), buckets, series.total)
    return family


#: An `le` label as Prometheus writes it (`60.0`, `3.1536e+07`): the client's own formatting.
_bound: Callable[[float], str] = floatToGoString
