"""A region's delivery figures for a period as the oversight dashboard's table shows them, from
`LatencyPeriodService.figures`: per agency and notification type, how many disclosures the hub
decided in the period, how many were delivered, acknowledged (on time, late) and are overdue now,
and the median and 90th percentile of each latency, read from its histogram (so given as "at
most" a bucket's bound)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from hub.services.latency import Histogram, HistogramSeries, Key
from hub.services.latency_periods import PeriodCounts, PeriodFigures

_UNITS = ((86400.0, "d"), (3600.0, "h"), (60.0, "min"), (1.0, "s"))


@dataclass(frozen=True, slots=True)
class Quantiles:
    """The median and 90th percentile of one latency, as bucket bounds ("at most")."""

    observed: int
    median: str
    p90: str
    mean_seconds: float | None
    #: The bounds in seconds, for a chart; None when nothing was observed or beyond the last.
    median_seconds: float | None = None
    p90_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class FigureRow:
    agency_id: str
    agency: str
    event_type: str
    counts: PeriodCounts
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


def merged(series: Iterable[HistogramSeries]) -> HistogramSeries | None:
    """Several label sets' observations as one (None if there are none)."""
    found = list(series)
    if not found:
        return None
    return HistogramSeries(
        cumulative=tuple(
            sum(counts) for counts in zip(*(s.cumulative for s in found), strict=True)
        ),
        total=sum(s.total for s in found),
        count=sum(s.count for s in found),
    )


def series_quantiles(buckets: tuple[float, ...], series: HistogramSeries | None) -> Quantiles:
    if series is None or series.count == 0:
        return Quantiles(0, "none", "none", None)

    def at(fraction: float) -> tuple[str, float | None]:
        needed = fraction * series.count
        for bound, cumulative in zip(buckets, series.cumulative, strict=True):
            if cumulative >= needed:
                return f"≤ {duration(bound)}", bound
        return f"> {duration(buckets[-1])}", None

    (median, median_seconds), (p90, p90_seconds) = at(0.5), at(0.9)
    return Quantiles(
        series.count, median, p90, series.total / series.count, median_seconds, p90_seconds
    )


def quantiles(histogram: Histogram, key: Key) -> Quantiles:
    return series_quantiles(histogram.buckets, histogram.series.get(key))


def region_rows(figures: PeriodFigures, agencies: Mapping[str, str]) -> list[FigureRow]:
    """One row per (agency, notification type) the region's agencies were told of in the
    period, by agency name then type; nothing about any other recipient."""
    keys = sorted(
        (key for key in figures.counts if key[0] in agencies),
        key=lambda key: (agencies[key[0]], key[1]),
    )
    return [
        FigureRow(
            agency_id=key[0],
            agency=agencies[key[0]],
            event_type=key[1],
            counts=figures.counts[key],
            decided=quantiles(figures.event_to_decision, key),
            delivery=quantiles(figures.decision_to_delivery, key),
            acknowledgement=quantiles(figures.decision_to_acknowledgement, key),
        )
        for key in keys
    ]


def total(rows: Iterable[FigureRow]) -> PeriodCounts:
    """The counts of every row, added up."""
    found = PeriodCounts()
    for row in rows:
        found += row.counts
    return found
