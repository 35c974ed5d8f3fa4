"""The dashboard's trends from months of `PeriodFigures`: every agency and type of a month
together, latency quantiles over the merged histograms, volumes per type, and the charts' data
(the same numbers as the tables: months as Unix time, latencies in seconds)."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.api.console.mappa_trends import region_trends
from hub.services.latency import Histogram, HistogramSeries
from hub.services.latency_periods import Period, PeriodCounts, PeriodFigures

BOUNDS = (60.0, 3600.0, 86400.0)
SW = ("sw-a", "release.schedule1-notification")
POLICE = ("police-a", "custody.admission")
NOVEMBER = Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
DECEMBER = Period(NOVEMBER.until, datetime(2027, 1, 1, tzinfo=UTC))


def month(
    period: Period, counts: dict[tuple[str, str], PeriodCounts], delivery: Histogram
) -> PeriodFigures:
    empty = Histogram(BOUNDS)
    return PeriodFigures(period, counts, empty, delivery, empty, empty, NOVEMBER.since)


def test_a_month_adds_up_its_agencies_and_types() -> None:
    november = month(
        NOVEMBER,
        {SW: PeriodCounts(2, 2, 2, 1, 1, 0), POLICE: PeriodCounts(3, 1, 0, 0, 0, 2)},
        Histogram(
            BOUNDS,
            {SW: HistogramSeries((2, 2, 2), 30.0, 2), POLICE: HistogramSeries((0, 0, 1), 9e3, 1)},
        ),
    )
    december = month(DECEMBER, {}, Histogram(BOUNDS))

    trends = region_trends([november, december])

    first, second = trends.months
    assert first.counts == PeriodCounts(5, 3, 2, 1, 1, 2)
    assert (first.delivery.median, first.delivery.p90) == ("≤ 1 min", "≤ 1 d")
    assert (first.label, second.label) == ("November 2026", "December 2026")
    assert second.counts == PeriodCounts()
    assert second.delivery.median == "none"
    assert trends.event_types == ["custody.admission", "release.schedule1-notification"]
    assert trends.volumes == [[3, 2], [0, 0]]

    data = trends.chart_data()
    assert data["months"] == [int(NOVEMBER.since.timestamp()), int(DECEMBER.since.timestamp())]
    assert data["labels"] == ["Nov 2026", "Dec 2026"]
    charts = data["charts"]
    assert isinstance(charts, dict)
    latency = charts["latency"]["series"]
    assert latency[0] == {"label": "Decided to delivered, median", "values": [60.0, None]}
    assert latency[1]["values"] == [86400.0, None]
    assert [s["values"] for s in charts["acknowledgements"]["series"]] == [[1, 0], [1, 0]]
    assert charts["volumes"]["series"] == [
        {"label": "custody.admission", "values": [3, 0]},
        {"label": "release.schedule1-notification", "values": [2, 0]},
    ]
