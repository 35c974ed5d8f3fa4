"""`GET /metrics`: how much is disclosed, delivered and acknowledged, and how late, in the
Prometheus text format.

The business figures are read at every scrape from the running totals the database keeps with
each change they count (`hub.infra.metric_counters`), not computed from every disclosure, so a
scrape costs the same however many disclosures the hub has made, and any process of a
scaled-out hub gives the same figures; their text is written by the process's
`DeliveryMetricsText` (`app.state.delivery_metrics_text`), which writes again only the
series whose figures changed since the last scrape (`hub.api.delivery_metrics`); the
technical ones (HTTP, process, workers, lags, outbox) are `hub.api.role_metrics`'s, as every
role exports them.
Labels are recipient ids (organisations in the directory), event types and route templates,
never a person or anything about one: that is why the endpoint can be scraped without a token.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from hub.api.delivery_metrics import DeliveryMetricsText
from hub.api.deps import ContainerDep
from hub.api.http_metrics import HttpMetrics
from hub.api.openapi import problems
from hub.api.role_metrics import technical_registry
from hub.errors import StoreUnavailable
from hub.services.latency import DeliveryMetrics
from hub.services.worker import WorkerLoop

router = APIRouter(tags=["metrics"])
logger = logging.getLogger(__name__)


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
    snapshot: DeliveryMetrics | None = None
    if database_up:
        try:
            snapshot = await container.latency.metrics()
        except StoreUnavailable as error:
            # The database went away between the queries: the business figures are left out.
            logger.warning("metrics: business figures left out: %s", error.message)
    page = [generate_latest(registry)]
    if snapshot is not None:
        text: DeliveryMetricsText = request.app.state.delivery_metrics_text
        page.append(text.render(snapshot).encode())
    http: HttpMetrics | None = getattr(request.app.state, "http_metrics", None)
    if http is not None:
        page.append(generate_latest(http))
    return Response(b"".join(page), media_type=CONTENT_TYPE_LATEST)
