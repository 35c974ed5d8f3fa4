"""Overdue disclosures and their escalations in the hub's database:
`hub.services.overdue.OverdueStore` on PostgreSQL or SQLite.

A pass reads only the disclosures awaiting acknowledgement that are due and not yet escalated
(`awaiting_acknowledgements`, migration 0021, through its partial index on the due time), so
its cost does not grow with the disclosures already acknowledged or escalated."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.infra.metric_counters import count_escalated
from hub.infra.protection import FieldProtection
from hub.infra.sqltools import Database, at, utc
from hub.infra.store import stored_events  # the one row -> StoredEvent mapping
from hub.infra.tables import (
    awaiting_acknowledgements,
    disclosure_acks,
    disclosures,
    events,
    overdue_escalations,
)
from hub.services.overdue import OVERDUE_EVENT_TYPE, OverdueDisclosure

__all__ = ["SqlOverdueStore"]


class SqlOverdueStore:
    def __init__(self, engine: AsyncEngine, *, protection: FieldProtection | None = None) -> None:
        self._db = Database(engine, "overdue store")
        #: Opens the events' sealed fields (none without).
        self._protection = protection

    async def overdue(self, now: datetime, limit: int) -> list[OverdueDisclosure]:
        w, d, a, x = awaiting_acknowledgements, disclosures, disclosure_acks, overdue_escalations
        query = (
            sa.select(
                d.c.disclosure_id,
                d.c.recipient_id,
                d.c.decided_at,
                d.c.acknowledge_within_seconds,
                *events.c,
            )
            .select_from(
                w.join(d, d.c.disclosure_id == w.c.disclosure_id)
                .join(events, events.c.position == d.c.event_position)
                .outerjoin(a, a.c.disclosure_id == w.c.disclosure_id)
                .outerjoin(x, x.c.disclosure_id == w.c.disclosure_id)
            )
            .where(
                w.c.escalate,
                # An escalation is never escalated, whatever a bundle says about its time
                # (`escalate` is false for them too).
                w.c.event_type != OVERDUE_EVENT_TYPE,
                w.c.due_at < at(now),
                # Checked here too: code older than 0021 (during a rollout) acknowledges and
                # escalates without touching `awaiting_acknowledgements`.
                a.c.disclosure_id.is_(None),
                x.c.disclosure_id.is_(None),
            )
            .order_by(w.c.due_at, w.c.disclosure_id)
            .limit(limit)
        )
        async with self._db.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
            found = await stored_events(connection, rows, self._protection)
        return [
            OverdueDisclosure(
                disclosure_id=row["disclosure_id"],
                recipient_id=row["recipient_id"],
                decided_at=utc(row["decided_at"]),
                acknowledge_within_seconds=int(row["acknowledge_within_seconds"]),
                event=event,
            )
            for row, event in zip(rows, found, strict=True)
        ]

    async def record_escalation(
        self, disclosure_id: str, event_id: str, escalated_at: datetime
    ) -> bool:
        statement = (
            self._db.insert(overdue_escalations)
            .values(
                disclosure_id=disclosure_id,
                escalated_at=escalated_at.astimezone(UTC),
                event_id=event_id,
            )
            .on_conflict_do_nothing(index_elements=[overdue_escalations.c.disclosure_id])
            .returning(overdue_escalations.c.disclosure_id)
        )
        async with self._db.connect(write=True) as connection, connection.begin():
            recorded = (await connection.execute(statement)).first() is not None
            if recorded:
                await count_escalated(connection, disclosure_id)
            return recorded
