"""A region's delivery figures as the oversight dashboard shows them, from the same
`LatencyService.metrics` that `/metrics` serves: per agency and notification type, how many
disclosures, how many delivered and acknowledged, how many overdue now, and the median and 90th
percentile of each latency, read from its histogram (so given as "at most" a bucket's bound)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.services.latency import DeliveryMetrics, Histogram, Key

_UNITS = ((86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"))


@dataclass(frozen=True, slots=True)
class Quantiles:
    """The median and 90th percentile of one latency, as bucket bounds ("at most")."""

    observed: int
    median: str
    p90: str
    mean_seconds: float | None


@dataclass(frozen=True, slots=True)
class FigureRow:
    agency_id: str
    agency: str
    event_type: str
    disclosures: int
    delivered: int
    acknowledged: int
    overdue: int
    decided: Quantiles
    delivery: Quantiles
    acknowledgement: Quantiles


def duration(seconds: float) -> str:
    """`90.0` -> "1.5 min": the largest unit that keeps the number at least 1."""
    for size, unit in _UNITS:
        if seconds >= size:
            value = seconds / size
            return f"{value:g} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{seconds:g} s"


def quantiles(histogram: Histogram, key: Key) -> Quantiles:
    series = histogram.series.get(key)
    if series is None or series.count == 0:
        return Quantiles(0, "none", "none", None)

    def at(fraction: float) -> str:
        needed = fraction * series.count
        for bound, cumulative in zip(histogram.buckets, series.cumulative, strict=True):
            if cumulative >= needed:
                return f"≤ {duration(bound)}"
        return f"> {duration(histogram.buckets[-1])}"

    return Quantiles(series.count, at(0.5), at(0.9), series.total / series.count)


def region_rows(metrics: DeliveryMetrics, agencies: Mapping[str, str]) -> list[FigureRow]:
    """One row per (agency, notification type) the region's agencies received, by agency name
    then type; nothing about any other recipient."""
    delivered: dict[Key, int] = {}
    for (recipient, event_type, _channel), count in metrics.delivered.items():
        delivered[(recipient, event_type)] = delivered.get((recipient, event_type), 0) + count
    keys = sorted(
        (key for key in metrics.disclosures if key[0] in agencies),
        key=lambda key: (agencies[key[0]], key[1]),
    )
    return [
        FigureRow(
            agency_id=key[0],
            agency=agencies[key[0]],
            event_type=key[1],
            disclosures=metrics.disclosures[key],
            delivered=delivered.get(key, 0),
            acknowledged=metrics.acknowledged.get(key, 0),
            overdue=metrics.overdue_unacknowledged.get(key, 0),
            decided=quantiles(metrics.event_to_decision, key),
            delivery=quantiles(metrics.decision_to_delivery, key),
            acknowledgement=quantiles(metrics.decision_to_acknowledgement, key),
        )
        for key in keys
    ]
