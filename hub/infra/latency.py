"""Disclosure latencies from the hub's database: `hub.services.latency.LatencyStore` on
PostgreSQL or SQLite.

`metrics` reads the running totals (`hub.infra.metric_counters`, kept in the same transaction
as each change they count) and, for the overdue gauge, the disclosures awaiting acknowledgement
that are not yet due (through their due-time index): its cost depends on the number of
recipients and event types and on the disclosures of the last acknowledgement period, not on
how many disclosures the store holds. `scanned_metrics` computes the same
figures from every disclosure (one grouped query each, read in one snapshot): the recount the
totals are checked against.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.infra.metric_counters import (
    DECISION_TO_ACKNOWLEDGEMENT,
    DECISION_TO_DELIVERY,
    EVENT_TO_DECISION,
    INTAKE_TO_DECISION,
    awaiting_not_yet_due,
    overdue_gauge,
    read_totals,
    recount,
)
from hub.infra.sqltools import Database, at, utc
from hub.infra.tables import (
    disclosure_acks,
    disclosure_receipts,
    disclosures,
    events,
    overdue_escalations,
)
from hub.services.latency import (
    DeliveryMetrics,
    DisclosureTimes,
    Histogram,
    HistogramSeries,
    Key,
)

__all__ = ["SqlLatencyStore"]

_d = disclosures
_e = events
_r = disclosure_receipts
_a = disclosure_acks
_x = overdue_escalations


class SqlLatencyStore:
    def __init__(self, engine: AsyncEngine) -> None:
        self._db = Database(engine, "latency store")

    async def times(self, disclosure_id: str) -> DisclosureTimes | None:
        query = (
            sa.select(
                _d.c.disclosure_id,
                _d.c.recipient_id,
                _d.c.event_type,
                _d.c.decided_at,
                _d.c.acknowledge_within_seconds,
                _e.c.time,
                _e.c.recorded_at,
                _r.c.first_delivered_at,
                _r.c.channel,
                _a.c.acknowledged_at,
                _x.c.escalated_at,
            )
            .select_from(
                _d.join(_e, _e.c.position == _d.c.event_position)
                .outerjoin(_r, _r.c.disclosure_id == _d.c.disclosure_id)
                .outerjoin(_a, _a.c.disclosure_id == _d.c.disclosure_id)
                .outerjoin(_x, _x.c.disclosure_id == _d.c.disclosure_id)
            )
            .where(_d.c.disclosure_id == disclosure_id)
        )
        async with self._db.connect() as connection:
            row = (await connection.execute(query)).first()
        if row is None:
            return None
        return DisclosureTimes(
            disclosure_id=row.disclosure_id,
            recipient_id=row.recipient_id,
            event_type=row.event_type,
            event_time=utc(row.time),
            recorded_at=utc(row.recorded_at),
            decided_at=utc(row.decided_at),
            acknowledge_within_seconds=row.acknowledge_within_seconds,
            first_delivered_at=_maybe_utc(row.first_delivered_at),
            delivery_channel=row.channel,
            acknowledged_at=_maybe_utc(row.acknowledged_at),
            escalated_at=_maybe_utc(row.escalated_at),
        )

    async def metrics(self, now: datetime, buckets: Sequence[float]) -> DeliveryMetrics:
        """The running totals and the overdue gauge, read in one snapshot."""
        async with self._db.connect(snapshot=True) as connection, connection.begin():
            totals = await read_totals(connection, buckets)
            not_yet_due = await _pairs(connection, awaiting_not_yet_due(now))
        overdue = overdue_gauge(totals.awaiting, not_yet_due)
        return DeliveryMetrics(
            disclosures=totals.disclosures,
            delivered=totals.delivered,
            acknowledged=totals.acknowledged,
            escalated=totals.escalated,
            overdue_unacknowledged=overdue,
            event_to_decision=totals.histograms[EVENT_TO_DECISION],
            intake_to_decision=totals.histograms[INTAKE_TO_DECISION],
            decision_to_delivery=totals.histograms[DECISION_TO_DELIVERY],
            decision_to_acknowledgement=totals.histograms[DECISION_TO_ACKNOWLEDGEMENT],
            now=now,
        )

    async def recount(self) -> int:
        """Rebuild the running totals and the awaiting-acknowledgement list from the rows, in
        one transaction (`hub db recount-metrics`); how many disclosures were read."""
        async with self._db.connect(write=True) as connection, connection.begin():
            return await recount(connection)

    async def scanned_metrics(self, now: datetime, buckets: Sequence[float]) -> DeliveryMetrics:
        """The same figures as `metrics`, computed from every disclosure (the full recount the
        running totals must agree with; its cost grows with the store)."""
        bounds = tuple(sorted(buckets))
        with_event = _d.join(_e, _e.c.position == _d.c.event_position)
        delivered = _d.join(_r, _r.c.disclosure_id == _d.c.disclosure_id)
        acknowledged = _d.join(_a, _a.c.disclosure_id == _d.c.disclosure_id)
        escalated = _d.join(_x, _x.c.disclosure_id == _d.c.disclosure_id)
        elapsed = self._db.seconds_between(_d.c.decided_at, at(now))
        overdue = (
            sa.select(_d.c.recipient_id, _d.c.event_type, sa.func.count())
            .select_from(_d.outerjoin(_a, _a.c.disclosure_id == _d.c.disclosure_id))
            .where(
                _d.c.acknowledge_within_seconds.is_not(None),
                _a.c.disclosure_id.is_(None),
                elapsed > _d.c.acknowledge_within_seconds,
            )
            .group_by(_d.c.recipient_id, _d.c.event_type)
        )
        async with self._db.connect(snapshot=True) as connection, connection.begin():
            return DeliveryMetrics(
                disclosures=await _counts(connection, _d),
                delivered=await _counts(connection, delivered, _r.c.channel),
                acknowledged=await _counts(connection, acknowledged),
                escalated=await _counts(connection, escalated),
                overdue_unacknowledged=await _pairs(connection, overdue),
                event_to_decision=await self._histogram(
                    connection, with_event, _e.c.time, _d.c.decided_at, bounds
                ),
                intake_to_decision=await self._histogram(
                    connection, with_event, _e.c.recorded_at, _d.c.decided_at, bounds
                ),
                decision_to_delivery=await self._histogram(
                    connection, delivered, _d.c.decided_at, _r.c.first_delivered_at, bounds
                ),
                decision_to_acknowledgement=await self._histogram(
                    connection, acknowledged, _d.c.decided_at, _a.c.acknowledged_at, bounds
                ),
                now=now,
            )

    async def _histogram(
        self,
        connection: AsyncConnection,
        source: sa.FromClause,
        start: sa.ColumnElement[Any],
        end: sa.ColumnElement[Any],
        bounds: tuple[float, ...],
    ) -> Histogram:
        observed = (
            sa.select(
                _d.c.recipient_id,
                _d.c.event_type,
                self._db.seconds_between(start, end).label("seconds"),
            )
            .select_from(source)
            # OFFSET 0 keeps both backends from merging this query into the one below, which
            # would compute the duration once per bucket (3x slower on PostgreSQL).
            .offset(0)
            .subquery()
        )
        seconds = observed.c.seconds
        query = sa.select(
            observed.c.recipient_id,
            observed.c.event_type,
            sa.func.count(),
            # Clocks that disagree (an event stamped in the future) count as no delay.
            sa.func.sum(sa.case((seconds < 0, 0.0), else_=seconds)),
            *(sa.func.sum(sa.case((seconds <= bound, 1), else_=0)) for bound in bounds),
        ).group_by(observed.c.recipient_id, observed.c.event_type)
        series: dict[Key, HistogramSeries] = {}
        for row in await connection.execute(query):
            recipient_id, event_type, count, total, *cumulative = row
            series[(recipient_id, event_type)] = HistogramSeries(
                cumulative=tuple(int(c) for c in cumulative),
                total=float(total or 0.0),
                count=int(count),
            )
        return Histogram(buckets=bounds, series=series)


async def _counts(
    connection: AsyncConnection, source: sa.FromClause, *extra: sa.ColumnElement[Any]
) -> dict[Any, int]:
    """Rows of `source` per (recipient, event type[, extra columns])."""
    query = (
        sa.select(_d.c.recipient_id, _d.c.event_type, *extra, sa.func.count())
        .select_from(source)
        .group_by(_d.c.recipient_id, _d.c.event_type, *extra)
    )
    return await _pairs(connection, query)


async def _pairs(connection: AsyncConnection, query: sa.Select[Any]) -> dict[Any, int]:
    return {tuple(row[:-1]): int(row[-1]) for row in await connection.execute(query)}


def _maybe_utc(value: datetime | None) -> datetime | None:
    return None if value is None else utc(value)
