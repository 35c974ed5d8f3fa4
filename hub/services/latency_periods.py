"""Disclosure figures for periods of time, for the MAPPA oversight dashboard: per recipient and
event type, how many disclosures the hub decided in a period, how many reached their recipient,
how many were acknowledged on time or late against their due time, how many are overdue now, and
histograms of each latency; and the same per calendar month, for trends.

A period is half-open: a disclosure belongs to it when `since <= decided_at < until`. What
happened to it afterwards counts whenever it happened (a disclosure decided on 31 January and
acknowledged on 2 February is an acknowledged January disclosure), so a period's figures are
those of the disclosures decided in it, as they stand now. Months are calendar months of the
clock in Scotland (`UK_TIME`: GMT in winter, BST in summer), as the agencies count them: a
disclosure decided at half past midnight on 1 July is July's, though 30 June's in UTC.

The all-time figures for `/metrics` are `hub.services.latency`; this module only reads.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from hub.services.latency import LATENCY_BUCKETS, Histogram, Key

__all__ = [
    "UK_TIME",
    "LatencyPeriodService",
    "LatencyPeriodStore",
    "Period",
    "PeriodCounts",
    "PeriodFigures",
    "add_months",
    "month_start",
]

#: The agencies' clock: what "this month" and a chosen day mean on the dashboard.
UK_TIME: Final = ZoneInfo("Europe/London")


@dataclass(frozen=True, slots=True)
class Period:
    """From `since` (included) to `until` (excluded), both aware."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ValueError("a period's bounds must carry a time zone")
        if self.since >= self.until:
            raise ValueError(f"a period must end after it begins ({self.since} - {self.until})")

    def holds(self, moment: datetime) -> bool:
        return self.since <= moment < self.until


@dataclass(frozen=True, slots=True)
class PeriodCounts:
    """One recipient and event type's disclosures decided in a period, as they stand now."""

    disclosures: int = 0
    #: Reached their recipient (by feed or webhook), at any time.
    delivered: int = 0
    #: Acknowledged at any time: on time, late, or with no due time.
    acknowledged: int = 0
    #: Acknowledged at or before their due time (decision + the rule's acknowledgement time).
    on_time: int = 0
    #: Acknowledged after their due time.
    late: int = 0
    #: Not acknowledged, and their due time has passed.
    overdue: int = 0

    def __add__(self, other: PeriodCounts) -> PeriodCounts:
        return PeriodCounts(
            self.disclosures + other.disclosures,
            self.delivered + other.delivered,
            self.acknowledged + other.acknowledged,
            self.on_time + other.on_time,
            self.late + other.late,
            self.overdue + other.overdue,
        )


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """Counts and latency histograms of the disclosures decided in `period`, per recipient and
    event type (only the recipients asked about; a key with no disclosure is absent)."""

    period: Period
    counts: Mapping[Key, PeriodCounts]
    #: From the occurrence (the notification's `time`) to the hub's decision.
    event_to_decision: Histogram
    decision_to_delivery: Histogram
    decision_to_acknowledgement: Histogram
    #: From the first delivery to the acknowledgement (only disclosures with both).
    delivery_to_acknowledgement: Histogram
    now: datetime


class LatencyPeriodStore(Protocol):
    """Reads the figures of periods from the hub's database."""

    async def figures(
        self,
        recipients: Collection[str],
        periods: Sequence[Period],
        now: datetime,
        buckets: Sequence[float],
    ) -> list[PeriodFigures]:
        """The figures of each of `periods` (in order; they do not overlap) for the disclosures
        made to `recipients` only, aggregated in the database. Negative durations, from clocks
        that disagree, count as 0."""
        ...


def month_start(moment: datetime) -> datetime:
    """Midnight in Scotland on the first day of `moment`'s month there (in `UK_TIME`)."""
    moment = moment.astimezone(UK_TIME)
    return datetime(moment.year, moment.month, 1, tzinfo=UK_TIME)


def add_months(first_of_month: datetime, months: int) -> datetime:
    """Midnight in Scotland on the first of the month `months` after (or, negative, before)
    `first_of_month`'s month there."""
    first_of_month = first_of_month.astimezone(UK_TIME)
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UK_TIME)


def _now() -> datetime:
    return datetime.now(UTC)


class LatencyPeriodService:
    def __init__(self, store: LatencyPeriodStore, *, clock: Callable[[], datetime] = _now) -> None:
        self._store = store
        self._clock = clock

    def now(self) -> datetime:
        return self._clock()

    async def figures(self, recipients: Collection[str], period: Period) -> PeriodFigures:
        """The figures of the disclosures made to `recipients` and decided in `period`."""
        [found] = await self._periods(recipients, [period])
        return found

    async def months(self, recipients: Collection[str], count: int = 12) -> list[PeriodFigures]:
        """The figures of each of the last `count` calendar months, this one included, oldest
        first."""
        if count < 1:
            raise ValueError("at least one month")
        this_month = month_start(self._clock())
        starts = [add_months(this_month, -n) for n in range(count - 1, -1, -1)]
        return await self._periods(
            recipients, [Period(start, add_months(start, 1)) for start in starts]
        )

    async def _periods(
        self, recipients: Collection[str], periods: Sequence[Period]
    ) -> list[PeriodFigures]:
        now = self._clock()
        if not recipients:
            empty = Histogram(LATENCY_BUCKETS)
            return [PeriodFigures(p, {}, empty, empty, empty, empty, now) for p in periods]
        return await self._store.figures(sorted(set(recipients)), periods, now, LATENCY_BUCKETS)
