"""A region's trends per month as the oversight dashboard shows them, from
`LatencyPeriodService.months`: per calendar month in Scotland, the disclosures the hub decided, how
many were delivered, acknowledged on time or late and are overdue now, the median and 90th
percentile of decision to delivery and of delivery to acknowledgement, and the volumes per
notification type; and the same as the data of the page's charts (each chart's table is on the
page; the chart is drawn from this by static/mappa-charts.js)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from hub.api.console.mappa_figures import Quantiles, merged, series_quantiles
from hub.services.latency import Histogram
from hub.services.latency_periods import PeriodCounts, PeriodFigures


@dataclass(frozen=True, slots=True)
class MonthRow:
    """One month's figures, every agency of the region and notification type together."""

    month: datetime
    counts: PeriodCounts
    delivery: Quantiles
    acknowledgement: Quantiles

    @property
    def label(self) -> str:
        return self.month.strftime("%B %Y")

    @property
    def short_label(self) -> str:
        return self.month.strftime("%b %Y")


@dataclass(frozen=True, slots=True)
class Trends:
    months: list[MonthRow]
    #: The notification types disclosed in any of the months, sorted.
    event_types: list[str]
    #: Per month, the disclosures of each of `event_types`.
    volumes: list[list[int]]

    def chart_data(self) -> dict[str, object]:
        """What the charts draw, as JSON for the page's data block: x is each month's first
        second (Unix time), y in seconds (latencies, as bucket bounds: "at most") or in
        disclosures."""

        def series(label: str, values: Sequence[float | int | None]) -> dict[str, object]:
            return {"label": label, "values": list(values)}

        rows = self.months
        return {
            "months": [int(r.month.timestamp()) for r in rows],
            "labels": [r.short_label for r in rows],
            "charts": {
                "latency": {
                    "kind": "lines",
                    "unit": "seconds",
                    "log": True,
                    "series": [
                        series(
                            "Decided to delivered, median",
                            [r.delivery.median_seconds for r in rows],
                        ),
                        series(
                            "Decided to delivered, 90%",
                            [r.delivery.p90_seconds for r in rows],
                        ),
                        series(
                            "Delivered to acknowledged, median",
                            [r.acknowledgement.median_seconds for r in rows],
                        ),
                        series(
                            "Delivered to acknowledged, 90%",
                            [r.acknowledgement.p90_seconds for r in rows],
                        ),
                    ],
                },
                "acknowledgements": {
                    "kind": "bars",
                    "unit": "disclosures",
                    "log": False,
                    "series": [
                        series("Acknowledged on time", [r.counts.on_time for r in rows]),
                        series("Acknowledged late", [r.counts.late for r in rows]),
                    ],
                },
                "volumes": {
                    "kind": "lines",
                    "unit": "disclosures",
                    "log": False,
                    "series": [
                        series(event_type, [month[i] for month in self.volumes])
                        for i, event_type in enumerate(self.event_types)
                    ],
                },
            },
        }


def _all(histogram: Histogram) -> Quantiles:
    """One latency's quantiles over every agency and notification type."""
    return series_quantiles(histogram.buckets, merged(histogram.series.values()))


def region_trends(months: Sequence[PeriodFigures]) -> Trends:
    """The months' figures (already only the region's agencies'), oldest first."""
    rows = []
    for month in months:
        counts = PeriodCounts()
        for found in month.counts.values():
            counts += found
        rows.append(
            MonthRow(
                month=month.period.since,
                counts=counts,
                delivery=_all(month.decision_to_delivery),
                acknowledgement=_all(month.delivery_to_acknowledgement),
            )
        )
    event_types = sorted({key[1] for month in months for key in month.counts})
    volumes = [
        [
            sum(c.disclosures for key, c in month.counts.items() if key[1] == event_type)
            for event_type in event_types
        ]
        for month in months
    ]
    return Trends(rows, event_types, volumes)
