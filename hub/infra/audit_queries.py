"""DPO queries over the audit trail and restrictions on subject access reports, in the hub's
database (`hub.services.audit_queries.AuditIndex` and `Restrictions`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.audit import builders as audit_records
from hub.domain.audit.entries import AuditEntry
from hub.errors import Conflict, NotFound
from hub.infra.audit import SqlAuditLog
from hub.infra.dberrors import translated
from hub.infra.tables import (
    audit_entries,
    audit_index,
    audit_index_rules,
    audit_leaves,
    person_restrictions,
)
from hub.services.audit_queries import AuditQuery, AuditRecord, Restriction

__all__ = ["SqlAuditIndex", "SqlRestrictions"]

#: How many entries a person's history reads per statement.
_PAGE = 10_000


class SqlAuditIndex:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def find(self, query: AuditQuery) -> list[AuditRecord]:
        select = _records().where(audit_index.c.position > query.after)
        if query.person_id is not None:
            select = select.where(audit_index.c.person_id == query.person_id)
        if query.recipient_id is not None:
            select = select.where(audit_index.c.recipient_id == query.recipient_id)
        if query.event_id is not None:
            select = select.where(audit_index.c.event_id == query.event_id)
        if query.event_ids:
            select = select.where(audit_index.c.event_id.in_(sorted(set(query.event_ids))))
        if query.purpose is not None:
            pattern = "%" + _escape_like(query.purpose.lower()) + "%"
            select = select.where(sa.func.lower(audit_index.c.purpose).like(pattern, escape="\\"))
        if query.rule is not None:
            select = select.where(
                audit_index.c.position.in_(
                    sa.select(audit_index_rules.c.position).where(
                        audit_index_rules.c.rule == query.rule
                    )
                )
            )
        if query.kinds:
            select = select.where(audit_index.c.kind.in_([k.value for k in query.kinds]))
        if query.since is not None:
            select = select.where(audit_index.c.occurred_at >= query.since.astimezone(UTC))
        if query.until is not None:
            select = select.where(audit_index.c.occurred_at < query.until.astimezone(UTC))
        select = select.order_by(audit_index.c.position).limit(query.limit)
        async with translated("the audit trail"), self._engine.connect() as connection:
            rows = (await connection.execute(select)).all()
        return [_record(row) for row in rows]

    async def person_entries(self, person_id: str, after: int = 0) -> list[AuditRecord]:
        found: list[AuditRecord] = []
        async with translated("the audit trail"), self._engine.connect() as connection:
            while True:
                rows = (
                    await connection.execute(
                        _records()
                        .where(
                            audit_index.c.person_id == person_id,
                            audit_index.c.position > after,
                        )
                        .order_by(audit_index.c.position)
                        .limit(_PAGE)
                    )
                ).all()
                found.extend(_record(row) for row in rows)
                if len(rows) < _PAGE:
                    return found
                after = found[-1].position


class SqlRestrictions:
    def __init__(self, engine: AsyncEngine, audit: SqlAuditLog) -> None:
        self._engine = engine
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._audit = audit

    async def of_person(self, person_id: str) -> list[Restriction]:
        query = (
            sa.select(person_restrictions)
            .where(person_restrictions.c.person_id == person_id)
            .order_by(person_restrictions.c.placed_at, person_restrictions.c.restriction_id)
        )
        async with translated("the restrictions"), self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_restriction(row) for row in rows]

    async def place(self, restriction: Restriction, entry: AuditEntry) -> None:
        withhold = (
            {
                "recipients": list(restriction.recipients),
                "event_types": list(restriction.event_types),
            }
            if restriction.recipients or restriction.event_types
            else None
        )
        async with translated("the restrictions"), self._writer.begin() as connection:
            await connection.execute(
                person_restrictions.insert().values(
                    restriction_id=restriction.restriction_id,
                    person_id=restriction.person_id,
                    ground=restriction.ground,
                    withhold=withhold,
                    reference=restriction.reference,
                    placed_at=restriction.placed_at,
                    placed_by=restriction.placed_by,
                )
            )
            await self._audit.append(connection, [entry])

    async def lift(
        self, restriction_id: str, lifted_by: str, at: datetime, agency: str
    ) -> Restriction:
        table = person_restrictions
        async with translated("the restrictions"), self._writer.begin() as connection:
            row = (
                (
                    await connection.execute(
                        sa.select(table).where(table.c.restriction_id == restriction_id)
                    )
                )
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(f"there is no restriction {restriction_id!r}")
            if row["lifted_at"] is not None:
                raise Conflict(f"restriction {restriction_id} was already lifted")
            await connection.execute(
                table.update()
                .where(table.c.restriction_id == restriction_id, table.c.lifted_at.is_(None))
                .values(lifted_at=at, lifted_by=lifted_by)
            )
            await self._audit.append(
                connection,
                [
                    audit_records.restriction_changed(
                        person_id=row["person_id"],
                        restriction_id=restriction_id,
                        ground=row["ground"],
                        change="lifted",
                        actor=lifted_by,
                        agency=agency,
                        at=at,
                    )
                ],
            )
            lifted = (
                (
                    await connection.execute(
                        sa.select(table).where(table.c.restriction_id == restriction_id)
                    )
                )
                .mappings()
                .one()
            )
        return _restriction(lifted)


def _records() -> sa.Select[Any]:
    return sa.select(
        audit_index.c.position, audit_leaves.c.leaf_index, audit_entries.c.entry
    ).select_from(
        audit_index.join(
            audit_entries, audit_entries.c.position == audit_index.c.position
        ).outerjoin(audit_leaves, audit_leaves.c.entry_position == audit_index.c.position)
    )


def _record(row: sa.Row[Any]) -> AuditRecord:
    return AuditRecord(
        position=int(row.position),
        leaf_index=None if row.leaf_index is None else int(row.leaf_index),
        entry=AuditEntry.from_canonical(row.entry.encode("utf-8")),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _restriction(row: sa.RowMapping) -> Restriction:
    withhold = row["withhold"] or {}
    placed_at = _utc(row["placed_at"])
    assert placed_at is not None
    return Restriction(
        restriction_id=row["restriction_id"],
        person_id=row["person_id"],
        ground=row["ground"],
        recipients=tuple(withhold.get("recipients", ())),
        event_types=tuple(withhold.get("event_types", ())),
        reference=row["reference"],
        placed_at=placed_at,
        placed_by=row["placed_by"],
        lifted_at=_utc(row["lifted_at"]),
        lifted_by=row["lifted_by"],
    )
