"""Periods and months without a database: a period's bounds, calendar months across years, the
service asking its store only for what it must (no recipients: no query; each recipient
once; the months in one query)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

import pytest

from hub.services.latency import LATENCY_BUCKETS, Histogram
from hub.services.latency_periods import (
    LatencyPeriodService,
    Period,
    PeriodFigures,
    add_months,
    month_start,
)

NOW = datetime(2026, 12, 7, 7, 30, tzinfo=UTC)


class RecordingStore:
    """Answers every period with no figures, and keeps what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[list[str], list[Period], datetime]] = []

    async def figures(
        self,
        recipients: Collection[str],
        periods: Sequence[Period],
        now: datetime,
        buckets: Sequence[float],
    ) -> list[PeriodFigures]:
        assert tuple(buckets) == LATENCY_BUCKETS
        self.asked.append((list(recipients), list(periods), now))
        empty = Histogram(tuple(buckets))
        return [PeriodFigures(p, {}, empty, empty, empty, empty, now) for p in periods]


def test_a_period_begins_before_it_ends_and_holds_its_first_moment_not_its_last() -> None:
    period = Period(NOW, NOW + timedelta(days=1))
    assert period.holds(NOW)
    assert not period.holds(NOW + timedelta(days=1))
    assert not period.holds(NOW - timedelta(microseconds=1))
    with pytest.raises(ValueError, match="must end after it begins"):
        Period(NOW, NOW)
    with pytest.raises(ValueError, match="time zone"):
        Period(datetime(2026, 1, 1), datetime(2026, 2, 1))


def test_months_are_counted_across_years() -> None:
    assert month_start(NOW) == datetime(2026, 12, 1, tzinfo=UTC)
    assert add_months(month_start(NOW), 1) == datetime(2027, 1, 1, tzinfo=UTC)
    assert add_months(month_start(NOW), -12) == datetime(2025, 12, 1, tzinfo=UTC)
    assert add_months(datetime(2026, 1, 1, tzinfo=UTC), -1) == datetime(2025, 12, 1, tzinfo=UTC)


@pytest.mark.asyncio
async def test_months_ask_once_for_the_last_n_calendar_months() -> None:
    store = RecordingStore()
    service = LatencyPeriodService(store, clock=lambda: NOW)

    months = await service.months(["sw-a", "police-a", "sw-a"], 3)

    [(recipients, periods, now)] = store.asked
    assert recipients == ["police-a", "sw-a"]
    assert now == NOW
    assert [m.period for m in months] == periods
    assert [p.since.month for p in periods] == [10, 11, 12]
    assert periods[-1].until == datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.asyncio
async def test_no_recipients_reads_nothing_and_no_months_is_refused() -> None:
    store = RecordingStore()
    service = LatencyPeriodService(store, clock=lambda: NOW)
    period = Period(NOW - timedelta(days=1), NOW)

    nobody = await service.figures([], period)

    assert store.asked == []
    assert nobody.counts == {}
    assert nobody.period == period
    with pytest.raises(ValueError, match="at least one month"):
        await service.months(["sw-a"], 0)
    assert store.asked == []
