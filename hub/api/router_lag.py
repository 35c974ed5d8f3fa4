"""The router's lag as the API shows it: in `/readyz` detail and as `/metrics` gauges."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from pydantic import BaseModel

from hub.services.routing_lag import RouterLag

__all__ = ["RouterLagCollector", "RouterLagDetail"]


class RouterLagDetail(BaseModel):
    """How far the router's checkpoint is behind the store's last position."""

    checkpoint: int
    head: int
    #: Positions stored but not yet routed.
    events: int
    #: How long the oldest of them has waited (0 when none waits).
    seconds: float

    @classmethod
    def of(cls, lag: RouterLag, now: datetime | None = None) -> RouterLagDetail:
        return cls(
            checkpoint=lag.checkpoint,
            head=lag.head,
            events=lag.events,
            seconds=round(lag.seconds(now or datetime.now(UTC)), 3),
        )


class RouterLagCollector(Collector):
    """`pph_router_lag_events` and `pph_router_lag_seconds`."""

    def __init__(self, lag: RouterLag, now: datetime | None = None) -> None:
        self._detail = RouterLagDetail.of(lag, now)

    def collect(self) -> Iterator[Metric]:
        events = GaugeMetricFamily(
            "pph_router_lag_events", "Events stored but not yet routed (store head - checkpoint)"
        )
        events.add_metric([], self._detail.events)
        seconds = GaugeMetricFamily(
            "pph_router_lag_seconds", "How long the oldest event not yet routed has waited"
        )
        seconds.add_metric([], self._detail.seconds)
        yield from (events, seconds)
