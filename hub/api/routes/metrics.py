"""`GET /metrics`: how much is disclosed, delivered and acknowledged, and how late, in the
Prometheus text format.

The business figures are read at every scrape (a fresh registry each time) from the running
totals the database keeps with each change they count (`hub.infra.metric_counters`), not
computed from every disclosure, so a scrape costs the same however many disclosures the hub
has made, and any process of a scaled-out hub gives the same figures; the technical ones (HTTP,
process, workers, lags, outbox) are `hub.api.role_metrics`'s, as every role exports them.
Labels are recipient ids (organisations in the directory), event types and route templates,
never a person or anything about one: that is why the endpoint can be scraped without a token.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from hub.api.deps import ContainerDep
from hub.api.http_metrics import HttpMetrics
from hub.api.openapi import problems
from hub.api.role_metrics import technical_registry
from hub.errors import StoreUnavailable
from hub.services.latency import DeliveryMetrics, Histogram
from hub.services.worker import WorkerLoop

router = APIRouter(tags=["metrics"])
logger = logging.getLogger(__name__)

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
    """Counters, latency histograms and the overdue gauge, per recipient and event type; this
    process's HTTP requests (by route template and status), its CPU, memory and descriptors;
    the state, retries and lag of each background worker of this process; the router's lag,
    the webhook outbox (queue depth, failing jobs, dead letters), the audit sequencer's lag
    and the latest checkpoint's age (`hub.api.role_metrics`).

    While the database is unavailable the process's and workers' figures are still given (they
    matter most then), the database's are left out, and `pph_database_up` is 0."""
    loops: dict[str, WorkerLoop] = getattr(request.app.state, "workers", {})
    registry, database_up = await technical_registry(container, loops)
    if database_up:
        try:
            registry.register(DeliveryCollector(await container.latency.metrics()))
        except StoreUnavailable as error:
            # The database went away between the queries: the business figures are left out.
            logger.warning("metrics: business figures left out: %s", error.message)
    http: HttpMetrics | None = getattr(request.app.state, "http_metrics", None)
    if http is not None:
        registry.register(http)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


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
