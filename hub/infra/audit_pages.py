"""The pages `hub audit verify` reads the whole stored log in: entries, leaves and the perfect
subtrees they complete, as plain rows inside the snapshot's transaction.

On PostgreSQL they come straight from asyncpg's records, through statements it prepares once:
building SQLAlchemy rows and then dataclasses for a million entries, leaves and subtrees cost
more CPU than the hashing they are checked by (bench/RESULTS.md, 2026-12-07, "`hub audit
verify` of 1,000,000 entries"). SQLite reads the same through SQLAlchemy Core."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.audit.records import EntryRow, LeafRow
from hub.domain.audit.subtrees import SubtreeKey, completed_ranges
from hub.errors import StoreError
from hub.infra.tables import audit_entries, audit_leaves, audit_subtrees

__all__ = ["VerificationPages"]

_ENTRIES = (
    "SELECT position, kind, occurred_at, entry FROM audit_entries "
    "WHERE position > $1 ORDER BY position LIMIT $2"
)
_LEAVES = (
    "SELECT leaf_index, entry_position, leaf_hash FROM audit_leaves "
    "WHERE leaf_index >= $1 ORDER BY leaf_index LIMIT $2"
)
#: One statement for every level's run of indexes (the primary key's order: level, index).
_SUBTREES = (
    'SELECT s.level, s."index", s.hash '
    "FROM unnest($1::integer[], $2::bigint[], $3::bigint[]) AS r(level, low, high) "
    'JOIN audit_subtrees AS s ON s.level = r.level AND s."index" BETWEEN r.low AND r.high'
)


class VerificationPages:
    """Reads pages on one connection whose read transaction has begun."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"
        self._driver: Any = None

    async def _asyncpg(self) -> Any:
        """asyncpg's connection, inside the snapshot's transaction (never outside it: a
        statement there would see another snapshot)."""
        if self._driver is None:
            raw = await self._connection.get_raw_connection()
            driver: Any = raw.driver_connection  # asyncpg's Connection
            if not driver.is_in_transaction():
                raise StoreError("the audit snapshot's transaction has not begun")
            self._driver = driver
        return self._driver

    async def entry_rows(self, after: int, limit: int) -> Sequence[EntryRow]:
        if self._postgres:
            # asyncpg gives `timestamptz` as an aware datetime in UTC, and records unpack
            # like tuples.
            return cast(
                Sequence[EntryRow], await (await self._asyncpg()).fetch(_ENTRIES, after, limit)
            )
        query = (
            sa.select(
                audit_entries.c.position,
                audit_entries.c.kind,
                audit_entries.c.occurred_at,
                audit_entries.c.entry,
            )
            .where(audit_entries.c.position > after)
            .order_by(audit_entries.c.position)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).all()
        return [(int(p), kind, _utc(at), entry) for p, kind, at, entry in rows]

    async def leaf_rows(self, start: int, limit: int) -> Sequence[LeafRow]:
        if self._postgres:
            return cast(
                Sequence[LeafRow], await (await self._asyncpg()).fetch(_LEAVES, start, limit)
            )
        query = (
            sa.select(
                audit_leaves.c.leaf_index, audit_leaves.c.entry_position, audit_leaves.c.leaf_hash
            )
            .where(audit_leaves.c.leaf_index >= start)
            .order_by(audit_leaves.c.leaf_index)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).all()
        return [(int(i), int(p), bytes(h)) for i, p, h in rows]

    async def completed_subtrees(self, first: int, last: int) -> dict[SubtreeKey, bytes]:
        ranges = completed_ranges(first, last)
        if not ranges:
            return {}
        if self._postgres:
            levels, lows, highs = (list(column) for column in zip(*ranges, strict=True))
            rows = await (await self._asyncpg()).fetch(_SUBTREES, levels, lows, highs)
            return {(level, index): hashed for level, index, hashed in rows}
        query = sa.select(
            audit_subtrees.c.level, audit_subtrees.c.index, audit_subtrees.c.hash
        ).where(
            sa.or_(
                *(
                    sa.and_(
                        audit_subtrees.c.level == level, audit_subtrees.c.index.between(low, high)
                    )
                    for level, low, high in ranges
                )
            )
        )
        rows = (await self._connection.execute(query)).all()
        return {(int(level), int(index)): bytes(hashed) for level, index, hashed in rows}


def _utc(value: datetime) -> datetime:
    """SQLite gives back what was stored (UTC) without its offset."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
