"""The figures of periods of time from the hub's database: `hub.services.latency_periods.
LatencyPeriodStore` on PostgreSQL or SQLite.

One grouped statement answers every period asked at once: each disclosure decided in one of them
is given the period's index (a CASE over the bounds, which both backends compare exactly:
SQLite's timestamps are fixed-width UTC text), and the database sums counts and histogram bucket
counts per (period, recipient, event type), so the answer is a few rows per recipient and type
per period, never a row per disclosure.

On time or late is decided by comparing moments, not floating-point seconds: on PostgreSQL
`acknowledged_at <= decided_at + interval` (microseconds); SQLite's date functions keep
milliseconds, so there whole milliseconds are compared. An acknowledgement at its due time
exactly is on time, as `FeedService` tells the acknowledging agency.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.infra.sqltools import Database, at
from hub.infra.tables import disclosure_acks, disclosure_receipts, disclosures, events
from hub.services.latency import Histogram, HistogramSeries, Key
from hub.services.latency_periods import Period, PeriodCounts, PeriodFigures

__all__ = ["SqlLatencyPeriodStore"]

_d = disclosures
_e = events
_r = disclosure_receipts
_a = disclosure_acks

#: The latencies each period's histograms hold: `PeriodFigures` fields and subquery columns.
_LATENCIES = (
    "event_to_decision",
    "decision_to_delivery",
    "decision_to_acknowledgement",
    "delivery_to_acknowledgement",
)


class SqlLatencyPeriodStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._db = Database(engine, "latency period store")

    async def figures(
        self,
        recipients: Collection[str],
        periods: Sequence[Period],
        now: datetime,
        buckets: Sequence[float],
    ) -> list[PeriodFigures]:
        bounds = tuple(sorted(buckets))
        query = self._query(recipients, periods, now, bounds)
        async with self._db.connect() as connection:
            found = (await connection.execute(query)).all()
        counts: list[dict[Key, PeriodCounts]] = [{} for _ in periods]
        series: dict[str, list[dict[Key, HistogramSeries]]] = {
            name: [{} for _ in periods] for name in _LATENCIES
        }
        width = 2 + len(bounds)
        for row in found:
            slot, recipient_id, event_type, *numbers = row
            key = (recipient_id, event_type)
            counts[slot][key] = PeriodCounts(*(int(n or 0) for n in numbers[:6]))
            for i, name in enumerate(_LATENCIES):
                observed, total, *cumulative = numbers[6 + i * width : 6 + (i + 1) * width]
                if observed:
                    series[name][slot][key] = HistogramSeries(
                        cumulative=tuple(int(c or 0) for c in cumulative),
                        total=float(total or 0.0),
                        count=int(observed),
                    )
        return [
            PeriodFigures(
                period=period,
                counts=counts[slot],
                event_to_decision=Histogram(bounds, series["event_to_decision"][slot]),
                decision_to_delivery=Histogram(bounds, series["decision_to_delivery"][slot]),
                decision_to_acknowledgement=Histogram(
                    bounds, series["decision_to_acknowledgement"][slot]
                ),
                delivery_to_acknowledgement=Histogram(
                    bounds, series["delivery_to_acknowledgement"][slot]
                ),
                now=now,
            )
            for slot, period in enumerate(periods)
        ]

    def _query(
        self,
        recipients: Collection[str],
        periods: Sequence[Period],
        now: datetime,
        bounds: tuple[float, ...],
    ) -> sa.Select[Any]:
        seconds = self._db.seconds_between
        slot = sa.case(
            *(
                (sa.and_(_d.c.decided_at >= at(p.since), _d.c.decided_at < at(p.until)), index)
                for index, p in enumerate(periods)
            ),
            else_=None,
        )
        within = _d.c.acknowledge_within_seconds
        decided = (
            sa.select(
                slot.label("slot"),
                _d.c.recipient_id,
                _d.c.event_type,
                _r.c.disclosure_id.label("delivered"),
                _a.c.disclosure_id.label("acknowledged"),
                sa.case(
                    (within.is_(None), None),
                    (self._later_than(_d.c.decided_at, _a.c.acknowledged_at, within), 1),
                    else_=0,
                ).label("late"),
                sa.case(
                    (sa.or_(within.is_(None), _a.c.disclosure_id.is_not(None)), 0),
                    (self._later_than(_d.c.decided_at, at(now), within), 1),
                    else_=0,
                ).label("overdue"),
                seconds(_e.c.time, _d.c.decided_at).label("event_to_decision"),
                seconds(_d.c.decided_at, _r.c.first_delivered_at).label("decision_to_delivery"),
                seconds(_d.c.decided_at, _a.c.acknowledged_at).label("decision_to_acknowledgement"),
                seconds(_r.c.first_delivered_at, _a.c.acknowledged_at).label(
                    "delivery_to_acknowledgement"
                ),
            )
            .select_from(
                _d.outerjoin(_e, _e.c.position == _d.c.event_position)
                .outerjoin(_r, _r.c.disclosure_id == _d.c.disclosure_id)
                .outerjoin(_a, _a.c.disclosure_id == _d.c.disclosure_id)
            )
            .where(
                _d.c.recipient_id.in_(list(recipients)),
                # The whole span first, so the database can narrow by it before the CASE.
                _d.c.decided_at >= at(min(p.since for p in periods)),
                _d.c.decided_at < at(max(p.until for p in periods)),
            )
            # OFFSET 0 keeps both backends from merging this into the grouping below, which
            # would compute each duration once per bucket.
            .offset(0)
            .subquery()
        )
        c = decided.c
        acknowledged_with_due = sa.and_(c.acknowledged.is_not(None), c.late.is_not(None))
        columns: list[sa.ColumnElement[Any]] = [
            sa.func.count(),
            sa.func.count(c.delivered),
            sa.func.count(c.acknowledged),
            sa.func.sum(sa.case((sa.and_(acknowledged_with_due, c.late == 0), 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(acknowledged_with_due, c.late == 1), 1), else_=0)),
            sa.func.sum(c.overdue),
        ]
        for name in _LATENCIES:
            latency = c[name]
            columns += [
                sa.func.count(latency),
                # Clocks that disagree (an event stamped in the future) count as no delay.
                sa.func.sum(sa.case((latency < 0, 0.0), else_=latency)),
                *(sa.func.sum(sa.case((latency <= bound, 1), else_=0)) for bound in bounds),
            ]
        return (
            sa.select(c.slot, c.recipient_id, c.event_type, *columns)
            .where(c.slot.is_not(None))
            .group_by(c.slot, c.recipient_id, c.event_type)
        )

    def _later_than(
        self,
        start: sa.ColumnElement[Any],
        end: sa.ColumnElement[Any],
        within: sa.ColumnElement[Any],
    ) -> sa.ColumnElement[bool]:
        """`end` is more than `within` seconds after `start` (false when `end` is null)."""
        if self._db.dialect == "postgresql":
            due = start + sa.func.make_interval(0, 0, 0, 0, 0, 0, within, type_=sa.Interval)
            return end > due
        # julianday() holds whole milliseconds: compare those, exactly.
        late_by = sa.func.round((sa.func.julianday(end) - sa.func.julianday(start)) * 86400000.0)
        return late_by > within * 1000
