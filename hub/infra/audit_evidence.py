"""The rows `hub.services.audit_evidence` checks against the audit log, read page by page inside
one read transaction (PostgreSQL: REPEATABLE READ, read only; SQLite: one read transaction, which
keeps the WAL snapshot of its first read), so that a hub writing meanwhile cannot make a row and
its entry look out of step."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.errors import StoreError
from hub.infra.dberrors import translated
from hub.infra.tables import (
    audit_entries,
    audit_index,
    audit_index_rules,
    disclosure_denials,
    disclosure_proposals,
    disclosures,
    event_erasures,
    events,
    recipient_counters,
    recipient_feed,
    review_decisions,
)
from hub.services.audit_evidence import INDEX_COLUMNS, FeedNumbers, IndexedEntry, LoggedEntry

__all__ = ["SqlEvidence"]

#: The tables whose rows are bound to entries, by name, with the column that keys a row.
_TABLES: dict[str, tuple[sa.Table, sa.Column[Any]]] = {
    "events": (events, events.c.position),
    "disclosures": (disclosures, disclosures.c.disclosure_id),
    "disclosure_denials": (disclosure_denials, disclosure_denials.c.denial_id),
    "event_erasures": (event_erasures, event_erasures.c.position),
    "disclosure_proposals": (disclosure_proposals, disclosure_proposals.c.proposal_id),
    "review_decisions": (review_decisions, review_decisions.c.proposal_id),
}


#: The pages of the whole log, as asyncpg runs them on PostgreSQL (prepared once): the entry,
#: then its `audit_index` row's key and the columns the checker compares (`INDEX_COLUMNS`).
_INDEX_COLUMNS = ("position", *INDEX_COLUMNS)
_INDEXED_ENTRIES = (
    "SELECT e.position, e.entry, i.position, i.kind, i.occurred_at, i.actor, i.person_id, "
    "i.recipient_id, i.event_id, i.purpose "
    # `i.position > $1` too: without it PostgreSQL's merge join walks the index from its first
    # row on every page (quadratic: 374 ms a page half-way through 10⁶ entries, 17 ms with it).
    "FROM audit_entries AS e "
    "LEFT JOIN audit_index AS i ON i.position = e.position AND i.position > $1 "
    "WHERE e.position > $1 ORDER BY e.position LIMIT $2"
)
#: The rules `audit_index_rules` holds, each once: a walk down its primary key (rule, position),
#: one probe per rule (PostgreSQL has no skip scan of its own; 83 ms for 143 rules among 1.2
#: million rows, where `SELECT DISTINCT` reads them all).
_INDEXED_RULES = (
    "WITH RECURSIVE r(rule) AS ("
    "SELECT min(rule) FROM audit_index_rules "
    "UNION ALL SELECT (SELECT min(rule) FROM audit_index_rules WHERE rule > r.rule) "
    "FROM r WHERE r.rule IS NOT NULL"
    ") SELECT rule FROM r WHERE rule IS NOT NULL"
)
#: A page's rules, through the primary key: every rule the table holds, each with the page's
#: range of positions (a filter on `position` alone reads the whole table: it leads no index).
_PAGE_RULES = (
    "SELECT position, rule FROM audit_index_rules "
    "WHERE rule = ANY($1::text[]) AND position BETWEEN $2 AND $3"
)


def _indexed_entries(after: int, limit: int) -> sa.Select[Any]:
    """`_INDEXED_ENTRIES` in SQLAlchemy Core (SQLite)."""
    return (
        sa.select(
            audit_entries.c.position,
            audit_entries.c.entry,
            *(audit_index.c[name] for name in _INDEX_COLUMNS),
        )
        .select_from(
            audit_entries.outerjoin(
                audit_index,
                sa.and_(
                    audit_index.c.position == audit_entries.c.position,
                    audit_index.c.position > after,
                ),
            )
        )
        .where(audit_entries.c.position > after)
        .order_by(audit_entries.c.position)
        .limit(limit)
    )


class SqlEvidence:
    """`hub.services.audit_evidence.EvidenceSource` on one SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[_SqlEvidenceSnapshot]:
        options: dict[str, Any] = (
            {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            if self._postgres
            else {}
        )
        async with translated("the audit log"), self._engine.connect() as connection:
            if options:
                connection = await connection.execution_options(**options)
            async with connection.begin():
                if self._postgres:
                    # Begin the transaction now (asyncpg's adapter begins it at the first
                    # statement): the entries are read from the driver, inside it.
                    await connection.execute(sa.text("SELECT 1"))
                yield _SqlEvidenceSnapshot(connection)


class _SqlEvidenceSnapshot:
    """`hub.services.audit_evidence.EvidenceSnapshot` on one connection."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._postgres = connection.dialect.name == "postgresql"
        self._driver: Any = None
        #: Every rule the index holds in this snapshot (read once, by the first page).
        self._rules: list[str] | None = None

    async def _asyncpg(self) -> Any:
        """asyncpg's connection inside the snapshot's transaction (on PostgreSQL, the pages
        of the whole log come from its records: `hub.infra.audit_pages`)."""
        if self._driver is None:
            raw = await self._connection.get_raw_connection()
            driver: Any = raw.driver_connection
            if not driver.is_in_transaction():
                raise StoreError("the evidence snapshot's transaction has not begun")
            self._driver = driver
        return self._driver

    async def _mappings(self, query: sa.Select[Any]) -> list[dict[str, Any]]:
        return [dict(row) for row in (await self._connection.execute(query)).mappings()]

    # -- the log and its query index -------------------------------------------------------------

    async def indexed_entries(self, after: int, limit: int) -> list[IndexedEntry]:
        # Plain tuples, not a mapping per row: this reads every entry of the log.
        rows: Sequence[Sequence[Any]]
        if self._postgres:
            driver = await self._asyncpg()
            rows = await driver.fetch(_INDEXED_ENTRIES, after, limit)
        else:
            rows = (await self._connection.execute(_indexed_entries(after, limit))).all()
        # The index row's own position is None without one; its columns follow the entry's.
        return [
            IndexedEntry(int(row[0]), row[1], None if row[2] is None else tuple(row[3:]))
            for row in rows
        ]

    async def index_rules(self, first: int, last: int) -> dict[int, set[str]]:
        if self._rules is None:
            self._rules = await self._indexed_rules()
        rules: dict[int, set[str]] = {}
        if not self._rules:
            return rules
        found: Sequence[Sequence[Any]]
        if self._postgres:
            found = await (await self._asyncpg()).fetch(_PAGE_RULES, self._rules, first, last)
        else:
            query = sa.select(audit_index_rules.c.position, audit_index_rules.c.rule).where(
                audit_index_rules.c.rule.in_(self._rules),
                audit_index_rules.c.position.between(first, last),
            )
            found = (await self._connection.execute(query)).all()
        for position, rule in found:
            rules.setdefault(int(position), set()).add(rule)
        return rules

    async def _indexed_rules(self) -> list[str]:
        if self._postgres:
            return [row[0] for row in await (await self._asyncpg()).fetch(_INDEXED_RULES)]
        query = sa.select(audit_index_rules.c.rule).distinct()
        return [str(rule) for rule in (await self._connection.execute(query)).scalars()]

    async def first_orphan_index_row(self) -> tuple[str, int] | None:
        """The first index row (table, position) whose entry does not exist."""
        for table in (audit_index, audit_index_rules):
            query = (
                sa.select(table.c.position)
                .where(~sa.exists().where(audit_entries.c.position == table.c.position))
                .order_by(table.c.position)
                .limit(1)
            )
            position = (await self._connection.execute(query)).scalar()
            if position is not None:
                return table.name, int(position)
        return None

    async def entries_about(self, kind: str, event_ids: Collection[str]) -> list[LoggedEntry]:
        """The entries of `kind` about any of these event ids, found through the query index
        (which the checker has verified against the entries first)."""
        if not event_ids:
            return []
        query = (
            sa.select(audit_entries.c.position, audit_entries.c.entry)
            .join(audit_index, audit_index.c.position == audit_entries.c.position)
            .where(audit_index.c.kind == kind, audit_index.c.event_id.in_(sorted(event_ids)))
            .order_by(audit_entries.c.position)
        )
        return [LoggedEntry(int(p), e) for p, e in await self._connection.execute(query)]

    # -- the rows --------------------------------------------------------------------------------

    async def rows(self, table: str, after: Any, limit: int) -> list[dict[str, Any]]:
        """A page of `table`'s rows (every column) in key order, keys above `after` (None:
        from the start). Erasure rows come with their event's `event_id` and `source` (as
        `_event_id`, `_source`), by which their entries are found."""
        source, key = _TABLES[table]
        if table == "event_erasures":
            query = sa.select(
                event_erasures,
                events.c.event_id.label("_event_id"),
                events.c.source.label("_source"),
            ).select_from(
                event_erasures.outerjoin(events, events.c.position == event_erasures.c.position)
            )
        else:
            query = sa.select(source)
        if after is not None:
            query = query.where(key > after)
        return await self._mappings(query.order_by(key).limit(limit))

    async def rows_with_keys(self, table: str, keys: Sequence[Any]) -> dict[Any, dict[str, Any]]:
        if not keys:
            return {}
        source, key = _TABLES[table]
        found = await self._mappings(sa.select(source).where(key.in_(list(keys))))
        return {row[key.name]: row for row in found}

    async def feed_numbers(self) -> list[FeedNumbers]:
        counted = (
            sa.select(
                recipient_feed.c.recipient_id,
                sa.func.count().label("count"),
                sa.func.min(recipient_feed.c.seq).label("first"),
                sa.func.max(recipient_feed.c.seq).label("last"),
            )
            .group_by(recipient_feed.c.recipient_id)
            .subquery()
        )
        query = sa.select(
            sa.func.coalesce(counted.c.recipient_id, recipient_counters.c.recipient_id).label(
                "recipient_id"
            ),
            counted.c.count,
            counted.c.first,
            counted.c.last,
            recipient_counters.c.last_seq,
        ).select_from(
            counted.join(
                recipient_counters,
                recipient_counters.c.recipient_id == counted.c.recipient_id,
                full=True,
            )
        )
        return [
            FeedNumbers(
                recipient_id=row["recipient_id"],
                count=int(row["count"] or 0),
                first=None if row["first"] is None else int(row["first"]),
                last=None if row["last"] is None else int(row["last"]),
                counter=None if row["last_seq"] is None else int(row["last_seq"]),
            )
            for row in (await self._connection.execute(query)).mappings()
        ]

    async def first_misfiled_feed_item(self) -> tuple[str, int, str] | None:
        """The first feed item (recipient, seq, disclosure id) whose disclosure does not exist
        or is to another recipient."""
        query = (
            sa.select(
                recipient_feed.c.recipient_id, recipient_feed.c.seq, recipient_feed.c.disclosure_id
            )
            .select_from(
                recipient_feed.outerjoin(
                    disclosures, disclosures.c.disclosure_id == recipient_feed.c.disclosure_id
                )
            )
            .where(
                sa.or_(
                    disclosures.c.disclosure_id.is_(None),
                    disclosures.c.recipient_id != recipient_feed.c.recipient_id,
                )
            )
            .order_by(recipient_feed.c.recipient_id, recipient_feed.c.seq)
            .limit(1)
        )
        row = (await self._connection.execute(query)).first()
        return None if row is None else (row[0], int(row[1]), row[2])
