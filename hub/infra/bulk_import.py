"""The SQL behind `hub import` (`hub.services.bulk_import.HistoryWriter`): one chunk of an
agency's history stored in one transaction, with every guarantee of the event store's append.

It decides exactly as `hub.infra.store` does, with the store's own helpers: the publisher's
client row read in the chunk's transaction, duplicates by `(source, id)` and content hash, the
subject index's links and the single-valued schemes (`_resolve`), the people locked before their
stream versions are read, sensitive fields sealed, and a collection entry for every event (and a
combination entry for every person it links identifiers to) written in the same transaction. It
differs in how the rows go in: on PostgreSQL the positions are drawn in one statement (once the
transaction holds its xid and the events table's insert lock: the never-skip protocol) and the
events (and the subject index's new rows) are sent with `COPY`; on SQLite, in one
`BEGIN IMMEDIATE` transaction per chunk, the events rows as the store's append writes them
(`hub.infra.store_sqlite`, on aiosqlite's connection), the other rows through SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import json
import operator
import random
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.notifications import AppendResult, Notification, PersonIdentifier, Publisher
from hub.errors import IdentifierConflict, StoreError, StoreUnavailable
from hub.infra.audit import SqlAuditLog
from hub.infra.dberrors import translated
from hub.infra.protection import FieldProtection

# The store's own decisions, not copies of them: an import links people, recognises duplicates
# and audits exactly as a push does. (Private to `hub.infra.store` because nothing else should
# decide these; this module is the store's second writer.)
from hub.infra.store import (
    SqlEventStore,
    _check_appendable,
    _is_race,
    _Planned,
    _resolve,
    _result,
    _reused,
    audit_entries,
    event_rows,
)
from hub.infra.store_driver import driver_connection
from hub.infra.store_publisher import check_publisher
from hub.infra.store_sqlite import EVENT_COLUMNS, event_values
from hub.infra.tables import events, person_identifiers, persons

__all__ = [
    "MAX_CHUNK_ATTEMPTS",
    "PostgresHistoryWriter",
    "SqlHistoryWriter",
    "SqliteHistoryWriter",
    "create_history_writer",
]

#: How many times a chunk is tried when a concurrent push won a race on one of its new
#: identifiers (the chunk's transaction is rolled back and run again, as the store's append is).
MAX_CHUNK_ATTEMPTS = 5

_STORED = sa.select(events.c.source, events.c.event_id, events.c.content_hash).where(
    sa.tuple_(events.c.source, events.c.event_id).in_(sa.bindparam("keys", expanding=True))
)
#: SQLite: the first row numbered by AUTOINCREMENT, the others at the positions that follow.
_SQLITE_COLUMNS = ", ".join((*EVENT_COLUMNS, "history"))
_SQLITE_MARKS = ", ".join("?" * (len(EVENT_COLUMNS) + 1))
_SQLITE_INSERT_FIRST = (
    f"INSERT INTO events ({_SQLITE_COLUMNS}) VALUES ({_SQLITE_MARKS}) RETURNING position"  # noqa: S608
)
_SQLITE_INSERT_MORE = (
    f"INSERT INTO events (position, {_SQLITE_COLUMNS}) VALUES (?, {_SQLITE_MARKS})"  # noqa: S608
)
#: The lock an INSERT INTO events takes, taken before the chunk's positions are drawn: the
#: never-skip protocol (`hub.infra.visibility.PostgresHorizon`) has a follower wait for every
#: transaction that holds it, so a holder of positions must hold it (and its xid: the opening
#: read draws it) before `nextval`. Without it, a push drawing a later position and committing
#: before the chunk's COPY let a follower read past the chunk for good.
_LOCK_EVENTS = sa.text("LOCK TABLE events IN ROW EXCLUSIVE MODE")
#: Positions for a chunk, in order.
_DRAW_POSITIONS = sa.text(
    "SELECT nextval('events_position_seq') FROM generate_series(1, :n) ORDER BY 1"
)
#: The events columns a chunk writes, in the order `COPY` sends them.
_EVENT_COLUMNS = ("position", *EVENT_COLUMNS, "history")
#: A row's values in that order (but the position), and where its JSON columns fall.
_COPY_VALUES = operator.itemgetter(*_EVENT_COLUMNS[1:])
_COPY_JSON = tuple(_EVENT_COLUMNS.index(c) for c in ("identifiers", "data"))
#: `json.dumps(value, ensure_ascii=False)`, without an encoder built for every value.
_JSON_TEXT = json.JSONEncoder(ensure_ascii=False)


class SqlHistoryWriter:
    """Writes chunks of imported notifications; subclasses send the rows their backend's way."""

    _postgres = False

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        store: SqlEventStore,
        audit: SqlAuditLog,
        protection: FieldProtection | None,
    ) -> None:
        self._engine = engine
        #: The event store whose reads (and locks) a chunk shares with every append.
        self._store = store
        #: Required: no writer of personal data goes without its audit entries.
        self._audit = audit
        self._protection = protection

    async def stored_hashes(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The content hash of each of `keys` (source, id) already stored (a dry run's check)."""
        if not keys:
            return {}
        async with self._connection() as connection:
            rows = await connection.execute(_STORED, {"keys": list(dict.fromkeys(keys))})
            return {(source, event_id): digest for source, event_id, digest in rows}

    async def write(
        self, chunk: Sequence[Notification], publisher: Publisher, *, history: bool
    ) -> list[AppendResult]:
        """Store `chunk` in one transaction, all or nothing; what became of each notification
        (stored, or a duplicate of what is stored), in order. `history` marks the stored events
        as history, which the router folds into profiles and discloses to no one."""
        if not chunk:
            return []
        _check_appendable(chunk, None)
        hashes = [n.content_hash() for n in chunk]
        last_error: Exception | None = None
        for attempt in range(MAX_CHUNK_ATTEMPTS):
            if attempt:
                await asyncio.sleep(random.uniform(0, min(0.01 * 2**attempt, 0.2)))  # noqa: S311
            try:
                async with self._writing() as connection:
                    return await self._write_once(connection, chunk, hashes, publisher, history)
            except StoreError as error:
                if not _raced(error.__cause__):
                    raise
                last_error = error
        raise StoreUnavailable(
            f"gave up storing a chunk after {MAX_CHUNK_ATTEMPTS} attempts: concurrent pushes "
            "kept winning the race for the same people"
        ) from last_error

    async def _write_once(
        self,
        connection: AsyncConnection,
        chunk: Sequence[Notification],
        hashes: Sequence[str],
        publisher: Publisher,
        history: bool,
    ) -> list[AppendResult]:
        # The store's own reads: the client row, stored duplicates, links, the xid (PostgreSQL),
        # then the known people locked, what they hold and their streams' last versions.
        opened, held, versions = await self._store.open_chunk(connection, chunk, publisher)
        check_publisher(opened.client, publisher)
        now = datetime.now(UTC)
        new_people: list[str] = []
        new_links: list[tuple[PersonIdentifier, str]] = []
        plan = _plan(chunk, hashes, opened.stored, opened.links, held, new_people, new_links)
        to_store = [p for p in plan if p.is_new]
        if not to_store:
            return [_result(p) for p in plan]
        await self._insert_people(connection, new_people, sorted(new_links), now)
        sealed: list[dict[str, Any] | None] = [None] * len(to_store)
        if self._protection is not None:
            sealed = list(
                await self._protection.seal(
                    connection, [(p.notification, p.person_id) for p in to_store], now
                )
            )
        rows = event_rows(to_store, sealed, versions, publisher, now, history)
        positions = await self._insert_events(connection, rows)
        for planned, row, position in zip(to_store, rows, positions, strict=True):
            planned.position = position
            planned.row = {**row, "position": position}
        for planned in plan:
            if planned.repeat_of is not None:
                first = plan[planned.repeat_of]
                planned.position, planned.stream_version = first.position, first.stream_version
        entries = audit_entries(
            to_store, new_links, set(new_people), publisher, now, "history" if history else "routed"
        )
        await self._audit.append(connection, entries)
        return [_result(p) for p in plan]

    async def _insert_people(
        self,
        connection: AsyncConnection,
        new_people: Sequence[str],
        new_links: Sequence[tuple[PersonIdentifier, str]],
        now: datetime,
    ) -> None:
        if new_people:
            await connection.execute(
                persons.insert(), [{"person_id": p, "created_at": now} for p in new_people]
            )
        if new_links:
            await connection.execute(
                person_identifiers.insert(),
                [
                    {"scheme": i.scheme, "value": i.value, "person_id": p, "linked_at": now}
                    for i, p in new_links
                ],
            )

    async def _insert_events(
        self, connection: AsyncConnection, rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        """Insert `rows` (every column but `position`); their positions, in order."""
        raise NotImplementedError

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        async with self._connection() as connection, connection.begin():
            yield connection

    @asynccontextmanager
    async def _connection(self, **options: Any) -> AsyncIterator[AsyncConnection]:
        async with translated("the event store"), self._engine.connect() as connection:
            if options:
                connection = await connection.execution_options(**options)
            yield connection


class SqliteHistoryWriter(SqlHistoryWriter):
    """SQLite: one writer at a time from the chunk's first statement (`BEGIN IMMEDIATE`), so
    AUTOINCREMENT positions follow commit order; the events rows written as the store's append
    writes them (`hub.infra.store_sqlite`: on aiosqlite's connection, values as SQLAlchemy
    writes them), with their `history`."""

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        async with self._connection(sqlite_begin="IMMEDIATE") as connection, connection.begin():
            yield connection

    async def _insert_events(
        self, connection: AsyncConnection, rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        """The first row numbered by AUTOINCREMENT, the others at the positions that follow,
        which it would have given them one by one: the chunk holds the only write lock."""
        driver = await driver_connection(connection)
        values = [(*event_values(row), row["history"]) for row in rows]
        [(first,)] = await driver.execute_fetchall(_SQLITE_INSERT_FIRST, values[0])
        positions = [int(first) + n for n in range(len(values))]
        if len(values) > 1:
            await driver.executemany(
                _SQLITE_INSERT_MORE,
                [(p, *v) for p, v in zip(positions[1:], values[1:], strict=True)],
            )
        return positions


class PostgresHistoryWriter(SqlHistoryWriter):
    """PostgreSQL: positions drawn from `events_position_seq` in one statement once the
    transaction holds its xid and the lock an INSERT takes (`_LOCK_EVENTS`), then the rows sent
    with `COPY` (binary) on the same connection and in the same transaction as everything else
    of the chunk."""

    _postgres = True

    @asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        async with (
            self._connection(isolation_level="READ COMMITTED") as connection,
            connection.begin(),
        ):
            yield connection

    async def _insert_people(
        self,
        connection: AsyncConnection,
        new_people: Sequence[str],
        new_links: Sequence[tuple[PersonIdentifier, str]],
        now: datetime,
    ) -> None:
        await _copy(
            connection, "persons", ("person_id", "created_at"), [(p, now) for p in new_people]
        )
        await _copy(
            connection,
            "person_identifiers",
            ("scheme", "value", "person_id", "linked_at"),
            [(i.scheme, i.value, p, now) for i, p in new_links],
        )

    async def _insert_events(
        self, connection: AsyncConnection, rows: Sequence[dict[str, Any]]
    ) -> list[int]:
        await connection.execute(_LOCK_EVENTS)
        drawn = await connection.execute(_DRAW_POSITIONS, {"n": len(rows)})
        positions = [int(p) for p in drawn.scalars().all()]
        records = [_copy_record(row, p) for row, p in zip(rows, positions, strict=True)]
        await _copy(connection, "events", _EVENT_COLUMNS, records)
        return positions


def _copy_record(row: dict[str, Any], position: int) -> list[Any]:
    """An events row as `COPY` sends it: at `position`, its JSON columns as text."""
    record = [position, *_COPY_VALUES(row)]
    for index in _COPY_JSON:
        record[index] = _JSON_TEXT.encode(record[index])
    return record


async def _copy(
    connection: AsyncConnection,
    table: str,
    columns: Sequence[str],
    records: Sequence[Sequence[Any]],
) -> None:
    """`COPY table (columns) FROM STDIN` (binary) inside the transaction on `connection`."""
    if not records:
        return
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None  # an open connection has its driver's
    await driver.copy_records_to_table(table, records=records, columns=list(columns))


def _raced(error: BaseException | None) -> bool:
    """Did a concurrent writer store the same new event or identifier first (the store's
    `_is_race`, or the unique violation `COPY` raises, which comes from the driver itself)?
    Then the chunk, run again, finds what it stored and decides afresh."""
    return _is_race(error) or getattr(error, "sqlstate", None) == "23505"


def _plan(
    chunk: Sequence[Notification],
    hashes: Sequence[str],
    stored: Any,
    links: dict[PersonIdentifier, str],
    held: dict[str, set[PersonIdentifier]],
    new_people: list[str],
    new_links: list[tuple[PersonIdentifier, str]],
) -> list[_Planned]:
    """Each notification's fate, decided as the store's append decides it: a duplicate of a
    stored event (same content) or of an earlier line, refused (`EventIdReused`) with other
    content, else filed under the person its identifiers name (new, linked or refused)."""
    plan: list[_Planned] = []
    first_in_chunk: dict[tuple[str, str], int] = {}
    for index, (notification, content_hash) in enumerate(zip(chunk, hashes, strict=True)):
        key = notification.key
        earlier = stored.get(key)
        if earlier is not None:
            if earlier.content_hash != content_hash:
                raise _reused(notification, earlier.position)
            plan.append(_Planned(notification, content_hash, earlier.person_id, earlier))
            continue
        if key in first_in_chunk:
            first = plan[first_in_chunk[key]]
            if first.content_hash != content_hash:
                raise _reused(notification, None)
            plan.append(
                _Planned(notification, content_hash, first.person_id, repeat_of=first_in_chunk[key])
            )
            continue
        first_in_chunk[key] = index
        try:
            person_id = _resolve(notification.identifiers, links, held, new_people, new_links)
        except IdentifierConflict as conflict:
            conflict.event_key = key
            raise
        plan.append(_Planned(notification, content_hash, person_id))
    return plan


def create_history_writer(
    engine: AsyncEngine,
    *,
    store: SqlEventStore,
    audit: SqlAuditLog,
    protection: FieldProtection | None,
) -> SqlHistoryWriter:
    """The writer for this engine's backend."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return PostgresHistoryWriter(engine, store=store, audit=audit, protection=protection)
    if dialect == "sqlite":
        return SqliteHistoryWriter(engine, store=store, audit=audit, protection=protection)
    raise ValueError(f"no history writer for the {dialect!r} database backend")
