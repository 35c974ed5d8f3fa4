"""The identifier-conflict review list in the hub's database (`hub.services.conflicts`)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.notifications import Notification, Publisher
from hub.errors import Conflict, NotFound, StoreUnavailable
from hub.infra.audit import SqlAuditLog
from hub.infra.tables import identifier_conflicts
from hub.services import audit_records
from hub.services.conflicts import IdentifierConflictCase


class SqlConflictReviewList:
    def __init__(self, engine: AsyncEngine, *, audit: SqlAuditLog | None = None) -> None:
        self._engine = engine
        self._audit = audit
        # SQLite: writers take the write lock as they begin (see `hub.infra.db`), so a read
        # followed by a write never fails with "database is locked" under other writers.
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    async def record(
        self, notification: Notification, publisher: Publisher, claims: Mapping[str, str]
    ) -> str:
        review_id = f"ic_{uuid.uuid4().hex[:16]}"
        now = datetime.now(UTC)
        row = {
            "review_id": review_id,
            "raised_at": now,
            "source": notification.source,
            "event_id": notification.id,
            "event_type": notification.type,
            "publisher_client_id": publisher.client_id,
            "publisher_agency": publisher.agency,
            "claims": dict(claims),
            "notification": notification.to_envelope(),
        }
        try:
            async with self._writer.begin() as connection:
                await connection.execute(identifier_conflicts.insert(), row)
                if self._audit is not None:
                    await self._audit.append(
                        connection,
                        audit_records.conflict_parked(
                            notification,
                            review_id=review_id,
                            people=list(claims.values()),
                            publisher=publisher,
                            at=now,
                        ),
                    )
        except (DBAPIError, OSError) as error:
            raise StoreUnavailable("could not record the identifier conflict") from error
        return review_id

    async def list_cases(self, *, include_resolved: bool = False) -> list[IdentifierConflictCase]:
        query = sa.select(identifier_conflicts).order_by(identifier_conflicts.c.raised_at)
        if not include_resolved:
            query = query.where(identifier_conflicts.c.resolved_at.is_(None))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_case(row) for row in rows]

    async def resolve(
        self, review_id: str, *, resolution: str, resolved_by: str
    ) -> IdentifierConflictCase:
        if not resolution.strip():
            raise Conflict("say how the conflict was resolved (a non-empty resolution)")
        table = identifier_conflicts
        async with self._writer.begin() as connection:
            found = (
                (await connection.execute(sa.select(table).where(table.c.review_id == review_id)))
                .mappings()
                .first()
            )
            if found is None:
                raise NotFound(f"there is no identifier conflict {review_id!r}")
            if found["resolved_at"] is not None:
                raise Conflict(f"identifier conflict {review_id} was already resolved")
            now = datetime.now(UTC)
            if self._audit is not None:
                await self._audit.append(
                    connection,
                    audit_records.conflict_resolved(
                        review_id=review_id,
                        people=list(found["claims"].values()),
                        event_id=found["event_id"],
                        source=found["source"],
                        resolved_by=resolved_by,
                        at=now,
                    ),
                )
            await connection.execute(
                table.update()
                .where(table.c.review_id == review_id, table.c.resolved_at.is_(None))
                .values(
                    resolved_at=now,
                    resolved_by=resolved_by,
                    resolution=resolution.strip(),
                )
            )
            row = (
                (await connection.execute(sa.select(table).where(table.c.review_id == review_id)))
                .mappings()
                .one()
            )
        return _case(row)


def _aware(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def _case(row: sa.RowMapping) -> IdentifierConflictCase:
    raised_at = _aware(row["raised_at"])
    assert raised_at is not None
    return IdentifierConflictCase(
        review_id=row["review_id"],
        raised_at=raised_at,
        source=row["source"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        publisher=Publisher(row["publisher_client_id"], row["publisher_agency"]),
        claims=dict(row["claims"]),
        notification=dict(row["notification"]),
        resolved_at=_aware(row["resolved_at"]),
        resolved_by=row["resolved_by"],
        resolution=row["resolution"],
    )
