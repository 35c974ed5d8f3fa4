"""Erasure at the end of retention in the hub's database (`hub.services.retention`).

Migration 0006 lets exactly this through the event store's append-only guard: `events.data` set
to `{}` for an event whose erasure is recorded in `event_erasures` in the same transaction; and
migration 0011 accepts an `event_erasures` row only when the erasure's audit entry, naming the
event's position, is already in the log: there is no erasure without its entry."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.audit import builders as audit_records
from hub.infra.audit import SqlAuditLog
from hub.infra.dberrors import translated
from hub.infra.tables import event_erasures, events
from hub.services.retention import DueEvent

__all__ = ["SqlRetentionStore"]


class SqlRetentionStore:
    def __init__(self, engine: AsyncEngine, audit: SqlAuditLog) -> None:
        self._engine = engine
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._audit = audit

    async def due(
        self, event_type: str, cutoff: datetime, limit: int, after: int = 0
    ) -> list[DueEvent]:
        query = (
            sa.select(
                events.c.position,
                events.c.person_id,
                events.c.event_id,
                events.c.source,
                events.c.type,
                events.c.time,
                events.c.recorded_at,
                events.c.data,
            )
            .select_from(
                events.outerjoin(event_erasures, event_erasures.c.position == events.c.position)
            )
            .where(
                events.c.type == event_type,
                events.c.time < cutoff.astimezone(UTC),
                events.c.position > after,
                event_erasures.c.position.is_(None),
            )
            .order_by(events.c.position)
            .limit(limit)
        )
        async with translated("the event store"), self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            DueEvent(
                position=int(row.position),
                person_id=row.person_id,
                event_id=row.event_id,
                source=row.source,
                event_type=row.type,
                time=_utc(row.time),
                recorded_at=_utc(row.recorded_at),
                fields=audit_records.data_fields(row.data or {}),
            )
            for row in rows
        ]

    async def erase(self, due: Sequence[DueEvent], *, rule: str, actor: str, at: datetime) -> int:
        if not due:
            return 0
        positions = [d.position for d in due]
        async with translated("the event store"), self._writer.begin() as connection:
            # Another run may have erased some meanwhile: erase only what is still unerased.
            already = set(
                (
                    await connection.execute(
                        sa.select(event_erasures.c.position).where(
                            event_erasures.c.position.in_(positions)
                        )
                    )
                ).scalars()
            )
            todo = [d for d in due if d.position not in already]
            if not todo:
                return 0
            erasures = [
                {
                    "position": d.position,
                    "erased_at": at,
                    "erased_by": actor,
                    "reason": rule,
                    "fields": list(d.fields),
                }
                for d in todo
            ]
            # The entries first: the database accepts an erasure only once its entry, naming
            # the event's position, is in the log (migration 0011).
            await self._audit.append(
                connection,
                [
                    audit_records.erasure(
                        person_id=d.person_id,
                        event_id=d.event_id,
                        source=d.source,
                        event_type=d.event_type,
                        fields=d.fields,
                        rule=rule,
                        actor=actor,
                        at=at,
                        recorded_at=d.recorded_at,
                        row=row,
                    )
                    for d, row in zip(todo, erasures, strict=True)
                ],
            )
            await connection.execute(event_erasures.insert(), erasures)
            await connection.execute(
                events.update()
                .where(events.c.position.in_([d.position for d in todo]))
                .values(data={})
            )
        return len(todo)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
