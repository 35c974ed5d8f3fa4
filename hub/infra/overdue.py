"""Overdue disclosures and their escalations in the hub's database:
`hub.services.overdue.OverdueStore` on PostgreSQL or SQLite."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.infra.protection import FieldProtection
from hub.infra.sqltools import Database, at, utc
from hub.infra.store import stored_events  # the one row -> StoredEvent mapping
from hub.infra.tables import disclosure_acks, disclosures, events, overdue_escalations
from hub.services.overdue import OVERDUE_EVENT_TYPE, OverdueDisclosure

__all__ = ["SqlOverdueStore"]


class SqlOverdueStore:
    def __init__(self, engine: AsyncEngine, *, protection: FieldProtection | None = None) -> None:
        self._db = Database(engine, "overdue store")
        #: Opens the events' sealed fields (none without).
        self._protection = protection

    async def overdue(self, now: datetime, limit: int) -> list[OverdueDisclosure]:
        d, a, x = disclosures, disclosure_acks, overdue_escalations
        elapsed = self._db.seconds_between(d.c.decided_at, at(now))
        query = (
            sa.select(
                d.c.disclosure_id,
                d.c.recipient_id,
                d.c.decided_at,
                d.c.acknowledge_within_seconds,
                *events.c,
            )
            .select_from(
                d.join(events, events.c.position == d.c.event_position)
                .outerjoin(a, a.c.disclosure_id == d.c.disclosure_id)
                .outerjoin(x, x.c.disclosure_id == d.c.disclosure_id)
            )
            .where(
                d.c.acknowledge_within_seconds.is_not(None),
                a.c.disclosure_id.is_(None),
                x.c.disclosure_id.is_(None),
                # An escalation is never escalated, whatever a bundle says about its time.
                d.c.event_type != OVERDUE_EVENT_TYPE,
                elapsed > d.c.acknowledge_within_seconds,
            )
            .order_by(d.c.decided_at, d.c.disclosure_id)
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
            return (await connection.execute(statement)).first() is not None
