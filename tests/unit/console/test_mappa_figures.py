"""The dashboard's figures from a period's `PeriodFigures`: quantiles read from the histograms as
bucket bounds (merged over label sets for the trends), only the region's agencies; the region's
agencies from the directory."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.api.console.mappa_access import region_agencies
from hub.api.console.mappa_figures import duration, merged, quantiles, region_rows, total
from hub.domain.policy.directory import Directory, Recipient
from hub.services.latency import Histogram, HistogramSeries
from hub.services.latency_periods import Period, PeriodCounts, PeriodFigures

BOUNDS = (60.0, 3600.0, 86400.0)
KEY = ("sw-north-lanarkshire", "release.schedule1-notification")
OTHER = ("sw-glasgow-city", "release.schedule1-notification")


def histogram(cumulative: tuple[int, ...], count: int, total: float) -> Histogram:
    return Histogram(BOUNDS, {KEY: HistogramSeries(cumulative, total, count)})


def test_durations_use_the_largest_unit_that_keeps_a_whole_one() -> None:
    assert [duration(s) for s in (1.0, 90.0, 3600.0, 86400.0 * 365)] == [
        "1 s",
        "1.5 min",
        "1 h",
        "365 d",
    ]


def test_the_median_and_p90_are_the_first_bounds_that_hold_half_and_nine_tenths() -> None:
    # 10 observations: 4 within a minute, 9 within an hour, all 10 within a day.
    found = quantiles(histogram((4, 9, 10), 10, 36000.0), KEY)
    assert (found.observed, found.median, found.p90) == (10, "≤ 1 h", "≤ 1 h")
    assert found.mean_seconds == 3600.0
    slow = quantiles(histogram((0, 1, 2), 10, 0.0), KEY)
    assert (slow.median, slow.p90) == ("> 1 d", "> 1 d")
    assert quantiles(histogram((0, 0, 0), 0, 0.0), OTHER).median == "none"


def test_rows_cover_only_the_region_s_agencies() -> None:
    empty = Histogram(BOUNDS, {})
    figures = PeriodFigures(
        period=Period(datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)),
        counts={
            KEY: PeriodCounts(3, 2, 2, on_time=1, late=1, overdue=1),
            OTHER: PeriodCounts(5, 5, 5, 5, 0, 0),
        },
        event_to_decision=empty,
        decision_to_delivery=histogram((1, 2, 2), 2, 100.0),
        decision_to_acknowledgement=empty,
        delivery_to_acknowledgement=empty,
        now=datetime(2026, 12, 7, tzinfo=UTC),
    )
    [row] = region_rows(figures, {"sw-north-lanarkshire": "North Lanarkshire social work"})
    assert (row.agency, row.counts) == (
        "North Lanarkshire social work",
        PeriodCounts(3, 2, 2, on_time=1, late=1, overdue=1),
    )
    assert (row.delivery.median, row.delivery.p90, row.delivery.median_seconds) == (
        "≤ 1 min",
        "≤ 1 h",
        60.0,
    )
    assert total([row, row]) == PeriodCounts(6, 4, 4, 2, 2, 2)


def test_merged_series_add_their_buckets_counts_and_sums() -> None:
    one = HistogramSeries((1, 2, 3), 10.0, 3)
    two = HistogramSeries((0, 0, 4), 5.0, 5)
    assert merged([one, two]) == HistogramSeries((1, 2, 7), 15.0, 8)
    assert merged([]) is None


def test_a_region_s_agencies_serve_only_its_areas() -> None:
    directory = Directory(
        (),
        [
            Recipient(
                "mappa-lanarkshire", "MAPPA Lanarkshire", "mappa-coordinator", frozenset({"A", "B"})
            ),
            Recipient("mappa-glasgow", "MAPPA Glasgow", "mappa-coordinator", frozenset({"G"})),
            Recipient("sw-a", "Social work A", "social-work", frozenset({"A"})),
            Recipient("health-ab", "Health board A and B", "health-board", frozenset({"A", "B"})),
            Recipient("sw-g", "Social work G", "social-work", frozenset({"G"})),
            Recipient("national", "National body", "parole-board", frozenset({"A", "B", "G"})),
            Recipient("nowhere", "No areas", "social-security", frozenset()),
        ],
    )
    assert set(region_agencies(directory, "mappa-lanarkshire")) == {
        "mappa-lanarkshire",
        "sw-a",
        "health-ab",
    }
    assert region_agencies(directory, "sw-a") == {}  # not a co-ordinator
    assert region_agencies(directory, "no-such-region") == {}
