"""The event store on a SQLAlchemy engine: one implementation of `hub.services.ports.EventStore`,
with the few parts that differ between PostgreSQL and SQLite in two small subclasses. Reads go
through SQLAlchemy Core; the append's statements run as plain SQL on the driver's connection
inside SQLAlchemy's transaction (`hub.infra.store_asyncpg`, `hub.infra.store_sqlite`).

`create_event_store(engine, audit=...)` picks the subclass by the engine's dialect.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit import builders as audit_records
from hub.domain.audit.collected import CollectionEntries
from hub.domain.audit.entries import AuditEntry
from hub.domain.identity import SecondValue, schemes_of, second_values
from hub.domain.notifications import (
    AppendResult,
    Notification,
    PersonIdentifier,
    Publisher,
    StoredEvent,
)
from hub.errors import (
    EventIdReused,
    IdentifierConflict,
    InvalidInput,
    StoreError,
    StoreUnavailable,
    StreamVersionConflict,
)
from hub.infra import store_asyncpg as postgres
from hub.infra import store_sqlite as sqlite
from hub.infra.audit import SqlAuditLog
from hub.infra.db import is_lost_connection
from hub.infra.dberrors import translated
from hub.infra.protection import FieldProtection
from hub.infra.store_driver import driver_connection
from hub.infra.store_publisher import ClientState, check_publisher
from hub.infra.tables import events, person_identifiers
from hub.infra.visibility import PostgresHorizon, SqliteHorizon, xid_held
from hub.observability import traces

__all__ = [
    "PostgresEventStore",
    "SqlEventStore",
    "SqliteEventStore",
    "audit_entries",
    "create_event_store",
    "event_rows",
    "stored_events",
]

#: How many times an append is tried when a concurrent append won a race on the same new
#: identifier or stream version (the whole transaction is rolled back and run again).
MAX_APPEND_ATTEMPTS = 10

#: PostgreSQL errors worth running the append again at once (deadlock, serialization failure);
#: whether the database is out of reach is `hub.infra.dberrors`'s to say.
_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})

# The append's statements, built once with their parameters bound at execution: SQLAlchemy then
# finds each compiled form by the statement object alone instead of building the statement and
# its cache key on every push (about a third of the Core's time on this path).
_LINKS = sa.select(
    person_identifiers.c.scheme, person_identifiers.c.value, person_identifiers.c.person_id
).where(
    sa.tuple_(person_identifiers.c.scheme, person_identifiers.c.value).in_(
        sa.bindparam("identifiers", expanding=True)
    )
)
_HELD = sa.select(
    person_identifiers.c.scheme, person_identifiers.c.value, person_identifiers.c.person_id
).where(person_identifiers.c.person_id.in_(sa.bindparam("people", expanding=True)))
#: Which question of the append's opening read a row answers (its first column, `part`):
#: `hub.infra.store_asyncpg.OPENING_READ`, `hub.infra.store_sqlite.OPENING_READ`.
_XID, _CLIENT, _STORED, _LINKED = range(4)


@dataclass(slots=True)
class _Opened:
    """What an append's first statement found."""

    client: ClientState | None = None
    stored: dict[tuple[str, str], _Stored] = field(default_factory=dict)
    links: dict[PersonIdentifier, str] = field(default_factory=dict)


def _opened(rows: Iterable[Sequence[Any]]) -> _Opened:
    """The opening read's rows (part, then six values), either backend's."""
    opened = _Opened()
    for part, a, b, c, d, e, f in rows:
        if part == _CLIENT:
            opened.client = ClientState(disabled=a is not None, agency=b, scopes=c)
        elif part == _STORED:
            opened.stored[(a, b)] = _Stored(c, d, e, f)
        elif part == _LINKED:
            opened.links[PersonIdentifier(a, b)] = e
    return opened


@dataclass(frozen=True, slots=True)
class _Stored:
    """What the append needs to know about an event already in the store."""

    content_hash: str
    position: int
    person_id: str
    stream_version: int


@dataclass(slots=True)
class _Planned:
    """One notification of a batch, once its fate is decided (before anything is written)."""

    notification: Notification
    content_hash: str
    person_id: str
    #: Already stored by an earlier append.
    stored: _Stored | None = None
    #: A repeat of an earlier item of the same batch (its index).
    repeat_of: int | None = None
    position: int = 0
    stream_version: int = 0
    #: The events row as written (its position included): what its collection entry binds.
    row: dict[str, Any] | None = None

    @property
    def is_new(self) -> bool:
        return self.stored is None and self.repeat_of is None


class SqlEventStore:
    """The event store on one SQLAlchemy async engine; subclasses fill in the backend's parts."""

    #: Execution options for the connection an append runs on.
    _writer_options: ClassVar[dict[str, Any]] = {}
    #: Execution options for the connection `read_all` and `last_position` run on.
    _reader_options: ClassVar[dict[str, Any]] = {}
    #: Whether an append whose pooled connection the server closed runs once more.
    _reconnects: ClassVar[bool] = False
    #: Whether an append's first statement draws the transaction's xid (`hub.infra.visibility`).

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        audit: SqlAuditLog,
        protection: FieldProtection | None = None,
    ) -> None:
        self._engine = engine
        #: Logs each collection and identifier link in the append's own transaction (required:
        #: no store records personal data without its audit entries).
        self._audit = audit
        #: Seals sensitive fields as they are written and opens them as they are read. Only
        #: stores built for tests of the store alone go without.
        self._protection = protection

    # -- writing -------------------------------------------------------------------------------

    async def append(
        self,
        notifications: Sequence[Notification],
        *,
        publisher: Publisher,
        expected_version: int | None = None,
    ) -> list[AppendResult]:
        if not notifications:
            return []
        _check_appendable(notifications, expected_version)
        # The span the stored events carry (`trace_context`): the router and the delivery
        # worker continue it, in whatever process they run.
        with traces.span("hub.store.append", {"hub.notifications": len(notifications)}):
            return await self._append(notifications, publisher, expected_version)

    async def _append(
        self,
        notifications: Sequence[Notification],
        publisher: Publisher,
        expected_version: int | None,
    ) -> list[AppendResult]:
        hashes = [n.content_hash() for n in notifications]
        last_error: Exception | None = None
        reconnected = False
        for attempt in range(MAX_APPEND_ATTEMPTS):
            if attempt:
                # Jittered, growing pause so that racing appenders do not collide again in step.
                await asyncio.sleep(random.uniform(0, min(0.002 * 2**attempt, 0.1)))  # noqa: S311
            try:
                async with (
                    self._one_appender(),
                    self._connection(**self._writer_options) as connection,
                    connection.begin(),
                ):
                    return await self._append_once(
                        connection, notifications, hashes, publisher, expected_version
                    )
            except StoreError as error:
                if self._reconnects and is_lost_connection(error.__cause__) and not reconnected:
                    # A pooled connection the server had closed (no pre-ping: `hub.infra.db`).
                    # The pool now holds none older than it; run the append once more on a new
                    # one. Safe even if the lost transaction committed: the append is idempotent
                    # and would then answer with the stored positions.
                    reconnected = True
                    last_error = error
                    continue
                if not _is_race(error.__cause__):
                    raise
                # A concurrent append committed the same new identifier or stream version (or
                # the same event) first. Run the whole transaction again: it now sees that
                # append's rows, and decides afresh (link, duplicate, conflict, next version).
                last_error = error
        raise StoreUnavailable(
            f"gave up appending after {MAX_APPEND_ATTEMPTS} attempts: concurrent appends kept "
            "winning the race for the same people"
        ) from last_error

    async def _append_once(
        self,
        connection: AsyncConnection,
        notifications: Sequence[Notification],
        hashes: Sequence[str],
        publisher: Publisher,
        expected_version: int | None,
    ) -> list[AppendResult]:
        opened = await self._open(connection, notifications, publisher)
        check_publisher(opened.client, publisher)
        now = datetime.now(UTC)
        stored, links = opened.stored, opened.links
        known_people = set(links.values())
        # Lock the people first, then read what they hold: two appends giving one person two
        # different SPS numbers then run one after the other, and the second sees the first's.
        held, versions = await self._people(connection, sorted(known_people))
        new_people: list[str] = []
        new_links: list[tuple[PersonIdentifier, str]] = []

        plan: list[_Planned] = []
        first_in_batch: dict[tuple[str, str], int] = {}
        for index, (notification, content_hash) in enumerate(
            zip(notifications, hashes, strict=True)
        ):
            key = notification.key
            earlier = stored.get(key)
            if earlier is not None:
                if earlier.content_hash != content_hash:
                    raise _reused(notification, earlier.position)
                plan.append(_Planned(notification, content_hash, earlier.person_id, earlier))
                continue
            if key in first_in_batch:
                first = plan[first_in_batch[key]]
                if first.content_hash != content_hash:
                    raise _reused(notification, None)
                plan.append(
                    _Planned(
                        notification,
                        content_hash,
                        first.person_id,
                        repeat_of=first_in_batch[key],
                    )
                )
                continue
            first_in_batch[key] = index
            try:
                person_id = _resolve(notification.identifiers, links, held, new_people, new_links)
            except IdentifierConflict as conflict:
                conflict.event_key = key
                raise
            plan.append(_Planned(notification, content_hash, person_id))

        to_store = [p for p in plan if p.is_new]
        if expected_version is not None:
            people = {p.person_id for p in plan}
            if len(people) > 1:
                raise InvalidInput(
                    "expected_version applies to one person's stream, but this batch resolves "
                    f"to {len(people)} different people"
                )
        if not to_store:
            return [_result(p) for p in plan]

        if expected_version is not None:
            first = to_store[0]
            actual = versions.get(first.person_id, 0)
            if actual != expected_version:
                stream = first.person_id
                if stream in new_people:  # its id is not kept: name the person by identifiers
                    stream = (
                        "of a new person ("
                        + ", ".join(map(str, first.notification.identifiers))
                        + ")"
                    )
                raise StreamVersionConflict(stream, expected_version, actual)

        sealed: list[dict[str, Any] | None] = [None] * len(to_store)
        if self._protection is not None:
            # The content hash was taken over the plaintext, so a repeat is still recognised.
            sealed = list(
                await self._protection.seal(
                    connection, [(p.notification, p.person_id) for p in to_store], now
                )
            )
        rows = event_rows(to_store, sealed, versions, publisher, now)
        # Links sorted, so that two appends inserting the same identifiers wait for each other
        # in one order and never deadlock.
        positions = await self._insert(
            connection, now, new_people, sorted(new_links), rows, publisher
        )
        for planned, row, position in zip(to_store, rows, positions, strict=True):
            planned.position = int(position)
            row["position"] = planned.position
            planned.row = row
        for planned in plan:
            if planned.repeat_of is not None:
                first = plan[planned.repeat_of]
                planned.position, planned.stream_version = first.position, first.stream_version
        entries = audit_entries(to_store, new_links, set(new_people), publisher, now)
        await self._audit.append(connection, entries)
        return [_result(p) for p in plan]

    async def open_chunk(
        self,
        connection: AsyncConnection,
        notifications: Sequence[Notification],
        publisher: Publisher,
    ) -> tuple[_Opened, dict[str, set[PersonIdentifier]], dict[str, int]]:
        """The append's reads for a writer outside `append` (`hub import`, in its own
        transaction on `connection`): the opening read (the publisher's client row, events
        already stored under the keys, the people the identifiers name, the xid), then the
        known people locked and what they hold and their streams' last versions."""
        opened = await self._open(connection, notifications, publisher)
        held, versions = await self._people(connection, sorted(set(opened.links.values())))
        return opened, held, versions

    # -- the backend's statements (plain SQL on the driver: `hub.infra.store_asyncpg`,
    # `hub.infra.store_sqlite`) --------------------------------------------------------------------

    async def _open(
        self,
        connection: AsyncConnection,
        notifications: Sequence[Notification],
        publisher: Publisher,
    ) -> _Opened:
        """The append's first statement: the publisher's client row, the events already stored
        under the notifications' keys and the people their identifiers already name (and, on
        PostgreSQL, the transaction's xid, drawn before any position)."""
        raise NotImplementedError

    async def _people(
        self, connection: AsyncConnection, person_ids: Sequence[str]
    ) -> tuple[dict[str, set[PersonIdentifier]], dict[str, int]]:
        """Lock the people already known (where appenders run at once), then read every
        identifier each holds and their streams' last versions."""
        raise NotImplementedError

    async def _insert(
        self,
        connection: AsyncConnection,
        now: datetime,
        new_people: Sequence[str],
        new_links: Sequence[tuple[PersonIdentifier, str]],
        rows: list[dict[str, Any]],
        publisher: Publisher,
    ) -> list[int]:
        """Insert the new people, their identifier links (sorted) and the events rows; the
        events' positions, in the rows' order."""
        raise NotImplementedError

    def _one_appender(self) -> AbstractAsyncContextManager[object]:
        """Held around each append transaction (nothing by default: appenders run at once)."""
        return nullcontext()

    # -- reading -------------------------------------------------------------------------------

    async def read_all(
        self, after: int = 0, limit: int = 1000, *, sealed: bool = False
    ) -> list[StoredEvent]:
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, not {limit}")
        async with self._connection(**self._reader_options) as connection:
            horizon = await self._readable_horizon(connection, after)
            if horizon <= after:
                return []
            query = (
                sa.select(events)
                .where(events.c.position > after, events.c.position <= horizon)
                .order_by(events.c.position)
                .limit(limit)
            )
            found = (await connection.execute(query)).mappings().all()
            return await stored_events(connection, found, None if sealed else self._protection)

    async def open_sealed(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """`events` as `read_all(sealed=True)` gave them (off the events topic, say) with their
        sealed fields opened as every read opens them: those under destroyed keys left out."""
        if self._protection is None or not events:
            return list(events)
        async with self._connection() as connection:
            return await _opened_events(connection, events, self._protection)

    async def last_position(self) -> int:
        async with self._connection(**self._reader_options) as connection:
            horizon = await self._readable_horizon(connection, 0)
            query = sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)).where(
                events.c.position <= horizon
            )
            return int((await connection.execute(query)).scalar_one())

    async def _readable_horizon(self, connection: AsyncConnection, after: int) -> int:
        """The highest position up to which no event can still commit. `after` is the caller's
        cursor: when the horizon is known to be at or below it there is no need to wait."""
        raise NotImplementedError

    async def read_stream(self, person_id: str, after_version: int = 0) -> list[StoredEvent]:
        query = (
            sa.select(events)
            .where(events.c.person_id == person_id, events.c.stream_version > after_version)
            .order_by(events.c.stream_version)
        )
        return await self._select_events(query)

    async def read_streams(self, person_ids: Collection[str]) -> dict[str, list[StoredEvent]]:
        streams: dict[str, list[StoredEvent]] = {}
        if not person_ids:
            return streams
        query = (
            sa.select(events)
            .where(events.c.person_id.in_(sorted(person_ids)))
            .order_by(events.c.person_id, events.c.stream_version)
        )
        for event in await self._select_events(query):
            streams.setdefault(event.person_id, []).append(event)
        return streams

    async def get(self, source: str, event_id: str) -> StoredEvent | None:
        query = sa.select(events).where(events.c.source == source, events.c.event_id == event_id)
        found = await self._select_events(query)
        return found[0] if found else None

    async def find_published(self, event_id: str, agency: str) -> list[StoredEvent]:
        query = (
            sa.select(events)
            .where(events.c.event_id == event_id, events.c.publisher_agency == agency)
            .order_by(events.c.position)
        )
        return await self._select_events(query)

    async def resolve_person(self, identifiers: Sequence[PersonIdentifier]) -> str | None:
        if not identifiers:
            return None
        async with self._connection() as connection:
            links = await _links_of(connection, identifiers)
            owners = set(links.values())
            if len(owners) > 1:
                raise _identifier_conflict(links)
            if not owners:
                return None
            person_id = owners.pop()
            held = await _identifiers_held(connection, {person_id})
        found = second_values(identifiers, held.get(person_id, set()))
        if found:
            raise _second_value_conflict(links, person_id, found)
        return person_id

    async def identifiers_of(self, person_id: str) -> list[PersonIdentifier]:
        query = (
            sa.select(person_identifiers.c.scheme, person_identifiers.c.value)
            .where(person_identifiers.c.person_id == person_id)
            .order_by(person_identifiers.c.scheme, person_identifiers.c.value)
        )
        async with self._connection() as connection:
            rows = (await connection.execute(query)).all()
        return [PersonIdentifier(scheme, value) for scheme, value in rows]

    async def count(self) -> int:
        async with self._connection() as connection:
            query = sa.select(sa.func.count()).select_from(events)
            return int((await connection.execute(query)).scalar_one())

    async def _select_events(self, query: sa.Select[Any]) -> list[StoredEvent]:
        async with self._connection() as connection:
            found = (await connection.execute(query)).mappings().all()
            return await stored_events(connection, found, self._protection)

    # -- the boundary ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _connection(self, **options: Any) -> AsyncIterator[AsyncConnection]:
        """A connection whose driver errors leave as `StoreError`s (the cause kept)."""
        async with translated("the event store"), self._engine.connect() as connection:
            if options:
                connection = await connection.execution_options(**options)
            yield connection


class SqliteEventStore(SqlEventStore):
    """SQLite (the embedded default). Appends begin with `BEGIN IMMEDIATE`, so one writer at a
    time holds the database from its first read; with AUTOINCREMENT, positions are therefore
    handed out in commit order, and a follower's plain `position > after` query never skips
    (`hub.infra.visibility.SqliteHorizon`)."""

    _writer_options: ClassVar[dict[str, Any]] = {"sqlite_begin": "IMMEDIATE"}

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        audit: SqlAuditLog,
        protection: FieldProtection | None = None,
    ) -> None:
        super().__init__(engine, audit=audit, protection=protection)
        self._horizon = SqliteHorizon(events)
        # SQLite has one writer at a time anyway; this process's appenders queue here, in
        # order, instead of on the database lock, whose busy handler sleeps and retries (up
        # to tens of milliseconds a turn), which under load left the file idle between commits.
        self._appending = asyncio.Lock()

    def _one_appender(self) -> AbstractAsyncContextManager[object]:
        return self._appending

    # The append's statements as plain SQL on aiosqlite (`hub.infra.store_sqlite`), in the
    # transaction SQLAlchemy began (`BEGIN IMMEDIATE`).

    async def _open(
        self,
        connection: AsyncConnection,
        notifications: Sequence[Notification],
        publisher: Publisher,
    ) -> _Opened:
        rows = await sqlite.opening_read(
            await driver_connection(connection),
            publisher.client_id,
            list(dict.fromkeys(n.key for n in notifications)),
            sorted({i for n in notifications for i in n.identifiers}),
        )
        return _opened(rows)

    async def _people(
        self, connection: AsyncConnection, person_ids: Sequence[str]
    ) -> tuple[dict[str, set[PersonIdentifier]], dict[str, int]]:
        # No lock: the transaction holds the database's one write lock from its BEGIN.
        if not person_ids:
            return {}, {}
        driver = await driver_connection(connection)
        return _held_and_versions(await sqlite.people_read(driver, person_ids))

    async def _insert(
        self,
        connection: AsyncConnection,
        now: datetime,
        new_people: Sequence[str],
        new_links: Sequence[tuple[PersonIdentifier, str]],
        rows: list[dict[str, Any]],
        publisher: Publisher,
    ) -> list[int]:
        return await sqlite.insert_events(
            await driver_connection(connection),
            now=now,
            new_people=new_people,
            new_links=[(i.scheme, i.value, person_id) for i, person_id in new_links],
            rows=rows,
        )

    async def _readable_horizon(self, connection: AsyncConnection, after: int) -> int:
        return await self._horizon(connection, after)


class PostgresEventStore(SqlEventStore):
    """PostgreSQL (scaled out): many appenders at once, and followers that never skip.

    Positions come from `events_position_seq`, handed out when an INSERT runs, not when its
    transaction commits, so a follower reads only up to a horizon below which nothing can still
    commit: the protocol of `hub.infra.visibility.PostgresHorizon`. Its writers' half is the
    first part of every append's first statement (its xid), so that the transaction has an
    xid before its INSERT takes the events table's RowExclusiveLock and calls `nextval`; its
    followers' half runs in `read_all` and `last_position`, each statement in its own
    transaction (autocommit), so that each sees a new snapshot. On timeout (`visibility_timeout`)
    a follower reads only up to the last horizon already proven safe, and asks again later.
    Writers never wait for followers.
    """

    # Appends run at READ COMMITTED: each statement sees what appends that held a person's lock
    # before it committed. That is every connection's default (`hub.infra.db` sets it when the
    # connection opens), so no per-transaction option.
    _reader_options: ClassVar[dict[str, Any]] = {"isolation_level": "AUTOCOMMIT"}
    _reconnects: ClassVar[bool] = True

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        visibility_timeout: float = 5.0,
        audit: SqlAuditLog,
        protection: FieldProtection | None = None,
    ) -> None:
        super().__init__(engine, audit=audit, protection=protection)
        self._horizon = PostgresHorizon("events", "events_position_seq", timeout=visibility_timeout)

    # The append's statements as plain SQL on asyncpg (`hub.infra.store_asyncpg`).

    async def _open(
        self,
        connection: AsyncConnection,
        notifications: Sequence[Notification],
        publisher: Publisher,
    ) -> _Opened:
        keys = list(dict.fromkeys(n.key for n in notifications))
        identifiers = sorted({i for n in notifications for i in n.identifiers})
        # Through SQLAlchemy (not compiled): it begins the transaction on the driver.
        result = await connection.exec_driver_sql(
            postgres.OPENING_READ,
            (
                publisher.client_id,
                [source for source, _ in keys],
                [event_id for _, event_id in keys],
                [i.scheme for i in identifiers],
                [i.value for i in identifiers],
            ),
        )
        xid_held(connection)
        return _opened(result.all())

    async def _people(
        self, connection: AsyncConnection, person_ids: Sequence[str]
    ) -> tuple[dict[str, set[PersonIdentifier]], dict[str, int]]:
        if not person_ids:
            return {}, {}
        driver = await driver_connection(connection)
        await self._lock_people(connection, person_ids)
        return _held_and_versions(await postgres.people_read(driver, person_ids))

    async def _lock_people(self, connection: AsyncConnection, person_ids: Sequence[str]) -> None:
        # Appends to the same person queue here (in one order: no deadlocks) instead of racing
        # to the same stream version and retrying; people new in this append need no lock.
        if person_ids:
            await postgres.lock_people(await driver_connection(connection), person_ids)

    async def _insert(
        self,
        connection: AsyncConnection,
        now: datetime,
        new_people: Sequence[str],
        new_links: Sequence[tuple[PersonIdentifier, str]],
        rows: list[dict[str, Any]],
        publisher: Publisher,
    ) -> list[int]:
        return await postgres.insert_events(
            await driver_connection(connection),
            now=now,
            new_people=new_people,
            new_links=[(i.scheme, i.value, person_id) for i, person_id in new_links],
            rows=rows,
            publisher_client_id=publisher.client_id,
            publisher_agency=publisher.agency,
            trace_context=rows[0]["trace_context"] if rows else None,
        )

    async def _readable_horizon(self, connection: AsyncConnection, after: int) -> int:
        return await self._horizon(connection, after)


def create_event_store(
    engine: AsyncEngine,
    *,
    audit: SqlAuditLog,
    protection: FieldProtection | None = None,
) -> SqlEventStore:
    """The event store for this engine's backend, logging to `audit` (sealing sensitive fields
    with `protection` when given)."""
    dialect = engine.dialect.name
    if dialect == "postgresql":
        return PostgresEventStore(engine, audit=audit, protection=protection)
    if dialect == "sqlite":
        return SqliteEventStore(engine, audit=audit, protection=protection)
    raise ValueError(f"no event store for the {dialect!r} database backend")


# -- helpers -----------------------------------------------------------------------------------


def audit_entries(
    stored: Sequence[_Planned],
    new_links: Sequence[tuple[PersonIdentifier, str]],
    new_people: set[str],
    publisher: Publisher,
    now: datetime,
    imported: str | None = None,
) -> list[AuditEntry]:
    """Collection of each stored notification; combination of the identifiers each append
    linked to a person (for the first notification that brought them). `imported`: how
    `hub import` stored them (`history` or `routed`), said in each collection entry."""
    entries = []
    linked: dict[str, list[PersonIdentifier]] = {}
    for identifier, person_id in new_links:
        linked.setdefault(person_id, []).append(identifier)
    # The rows share most of their values: each is digested once (`CollectionEntries`).
    collections = CollectionEntries()
    for planned in stored:
        assert planned.row is not None  # every stored item's row, as written
        entries.append(
            collections.collection(
                planned.notification,
                person_id=planned.person_id,
                position=planned.position,
                publisher=publisher,
                at=now,
                stored=planned.row,
                imported=imported,
            )
        )
        identifiers = linked.pop(planned.person_id, None)
        if identifiers:
            entries.append(
                audit_records.combination(
                    planned.notification,
                    person_id=planned.person_id,
                    linked=identifiers,
                    new_person=planned.person_id in new_people,
                    publisher=publisher,
                    at=now,
                )
            )
    return entries


def _held_and_versions(
    rows: Iterable[Sequence[Any]],
) -> tuple[dict[str, set[PersonIdentifier]], dict[str, int]]:
    """The people read's rows (part, scheme, value, person id, version), either backend's:
    every identifier each person holds, and each stream's last version."""
    held: dict[str, set[PersonIdentifier]] = {}
    versions: dict[str, int] = {}
    for part, scheme, value, person_id, version in rows:
        if part == 0:
            held.setdefault(person_id, set()).add(PersonIdentifier(scheme, value))
        else:
            versions[person_id] = int(version)
    return held, versions


def _check_appendable(notifications: Sequence[Notification], expected_version: int | None) -> None:
    if expected_version is not None and expected_version < 0:
        raise InvalidInput(f"expected_version must be 0 or more, not {expected_version}")
    for notification in notifications:
        if not notification.identifiers:
            raise InvalidInput(
                f"notification {notification.id} from {notification.source} names no person "
                "identifier, so it cannot be filed under a person"
            )
        if notification.time.utcoffset() is None:
            raise InvalidInput(
                f"notification {notification.id} from {notification.source} has a time "
                "without a UTC offset"
            )


def _resolve(
    identifiers: Sequence[PersonIdentifier],
    links: dict[PersonIdentifier, str],
    held: dict[str, set[PersonIdentifier]],
    new_people: list[str],
    new_links: list[tuple[PersonIdentifier, str]],
) -> str:
    """The person these identifiers belong to (new if none is known); links the unknown ones.
    `links` holds what the subject index says plus what this append has linked so far, and
    `held` every identifier of the people in it. Refused (`IdentifierConflict`) when the
    identifiers belong to two people, or when linking would give the person a second value of
    a single-valued scheme (`hub.domain.identity`)."""
    known = {i: links[i] for i in identifiers if i in links}
    owners = set(known.values())
    if len(owners) > 1:
        raise _identifier_conflict(known)
    person_id = owners.pop() if owners else f"p_{uuid4().hex}"
    found = second_values(identifiers, held.get(person_id, set()))
    if found:
        raise _second_value_conflict(known, person_id, found)
    if not known:
        new_people.append(person_id)
    for identifier in dict.fromkeys(identifiers):
        if identifier not in links:
            links[identifier] = person_id
            held.setdefault(person_id, set()).add(identifier)
            new_links.append((identifier, person_id))
    return person_id


def _identifier_conflict(links: dict[PersonIdentifier, str]) -> IdentifierConflict:
    # The problem names the schemes only: which values the index holds for whom (hub ids,
    # other records' identifiers) is for the review list, never for the publisher.
    schemes = tuple(sorted({identifier.scheme for identifier in links}))
    return IdentifierConflict(
        f"the notification's identifiers of the schemes {', '.join(schemes)} belong to "
        "different people in the subject index",
        {str(identifier): person for identifier, person in sorted(links.items())},
        kind=IdentifierConflict.TWO_PEOPLE,
        schemes=schemes,
    )


def _second_value_conflict(
    known: dict[PersonIdentifier, str], person_id: str, found: Sequence[SecondValue]
) -> IdentifierConflict:
    # The message names the schemes, never the value the person holds (another record's
    # identifier) or the person's hub id; the review list's claims hold both.
    schemes = schemes_of(found)
    described = "; ".join(dict.fromkeys(f.describe() for f in found))
    claims = {str(identifier): person for identifier, person in known.items()}
    claims |= {str(f.held): person_id for f in found}
    return IdentifierConflict(
        f"the notification would give a person a second value of a single-valued identifier "
        f"scheme: {described}. One person has one value of it; a second is a duplicate record "
        "or a wrong identifier",
        dict(sorted(claims.items())),
        kind=IdentifierConflict.SECOND_VALUE,
        schemes=schemes,
    )


def _reused(notification: Notification, position: int | None) -> EventIdReused:
    where = f"the event at position {position}" if position is not None else "an earlier item"
    return EventIdReused(
        f"event id {notification.id} from {notification.source} is already used by {where} "
        "with different content"
    )


async def _links_of(
    connection: AsyncConnection, identifiers: Sequence[PersonIdentifier]
) -> dict[PersonIdentifier, str]:
    wanted = [(i.scheme, i.value) for i in sorted(set(identifiers))]
    return {
        PersonIdentifier(scheme, value): person_id
        for scheme, value, person_id in await connection.execute(_LINKS, {"identifiers": wanted})
    }


async def _identifiers_held(
    connection: AsyncConnection, person_ids: set[str]
) -> dict[str, set[PersonIdentifier]]:
    """Every identifier the subject index holds for each of `person_ids`."""
    if not person_ids:
        return {}
    held: dict[str, set[PersonIdentifier]] = {}
    rows = await connection.execute(_HELD, {"people": sorted(person_ids)})
    for scheme, value, person_id in rows:
        held.setdefault(person_id, set()).add(PersonIdentifier(scheme, value))
    return held


def _event_row(
    planned: _Planned, publisher: Publisher, now: datetime, data: dict[str, Any] | None = None
) -> dict[str, Any]:
    n = planned.notification
    return {
        "source": n.source,
        "event_id": n.id,
        "type": n.type,
        "version": n.version,
        "time": n.time.astimezone(UTC),
        "subject": n.subject,
        "specversion": n.specversion,
        "datacontenttype": n.datacontenttype,
        "identifiers": [{"scheme": i.scheme, "value": i.value} for i in n.identifiers],
        "data": dict(n.data) if data is None else data,
        "content_hash": planned.content_hash,
        "person_id": planned.person_id,
        "stream_version": planned.stream_version,
        "publisher_client_id": publisher.client_id,
        "publisher_agency": publisher.agency,
        "recorded_at": now,
        "trace_context": traces.current_context(),
    }


def event_rows(
    to_store: Sequence[_Planned],
    sealed: Sequence[dict[str, Any] | None],
    versions: dict[str, int],
    publisher: Publisher,
    now: datetime,
    history: bool | None = None,
) -> list[dict[str, Any]]:
    """The events rows of `to_store` (each `data` as `sealed` gives it; None: as it came), each
    the next version of its person's stream: `versions` (each stream's last) and each planned
    item's `stream_version` are moved on. `history`: `hub import`'s column, which a push leaves
    to its default."""
    rows = []
    for planned, data in zip(to_store, sealed, strict=True):
        version = versions.get(planned.person_id, 0) + 1
        versions[planned.person_id] = version
        planned.stream_version = version
        row = _event_row(planned, publisher, now, data)
        if history is not None:
            row["history"] = history
        rows.append(row)
    return rows


def _result(planned: _Planned) -> AppendResult:
    n = planned.notification
    if planned.stored is not None:
        return AppendResult(
            n.source,
            n.id,
            planned.stored.position,
            planned.stored.person_id,
            planned.stored.stream_version,
            duplicate=True,
        )
    return AppendResult(
        n.source,
        n.id,
        planned.position,
        planned.person_id,
        planned.stream_version,
        duplicate=planned.repeat_of is not None,
    )


async def stored_events(
    connection: AsyncConnection,
    rows: Sequence[sa.RowMapping],
    protection: FieldProtection | None,
) -> list[StoredEvent]:
    """The events of `rows` (holding every `events` column), their sealed fields opened on
    `connection` (erased ones left out): the one row -> StoredEvent mapping of every reader."""
    return await _opened_events(connection, [_stored_event(row) for row in rows], protection)


async def _opened_events(
    connection: AsyncConnection,
    events: Sequence[StoredEvent],
    protection: FieldProtection | None,
) -> list[StoredEvent]:
    """`events` with their sealed fields opened on `connection` (erased ones left out): the one
    way every reader opens them, whether read from the table or handed over by the topic."""
    if protection is None:
        return list(events)
    opened = await protection.open(
        connection,
        [(e.notification.source, e.notification.id, e.notification.data) for e in events],
    )
    return [
        replace(event, notification=replace(event.notification, data=data))
        for event, data in zip(events, opened, strict=True)
    ]


def _stored_event(row: sa.RowMapping) -> StoredEvent:
    notification = Notification(
        id=row["event_id"],
        source=row["source"],
        type=row["type"],
        version=row["version"],
        time=_utc(row["time"]),
        identifiers=tuple(PersonIdentifier(i["scheme"], i["value"]) for i in row["identifiers"]),
        data=row["data"],
        subject=row["subject"],
        specversion=row["specversion"],
        datacontenttype=row["datacontenttype"],
    )
    return StoredEvent(
        position=row["position"],
        person_id=row["person_id"],
        stream_version=row["stream_version"],
        notification=notification,
        recorded_at=_utc(row["recorded_at"]),
        publisher=Publisher(row["publisher_client_id"], row["publisher_agency"]),
        trace_context=row.get("trace_context"),
        history=bool(row.get("history", False)),
    )


def _utc(value: datetime) -> datetime:
    """SQLite gives back what was stored (UTC) without its offset; PostgreSQL gives an aware
    datetime. Both leave here aware and in UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _sqlstate(error: BaseException | None) -> str | None:
    """The SQLSTATE of a driver error: SQLAlchemy's (from the error it wraps), or asyncpg's
    own (the append's statements run on asyncpg directly: `hub.infra.store_asyncpg`)."""
    state = getattr(getattr(error, "orig", error), "sqlstate", None)
    return state if isinstance(state, str) else None


def _is_race(error: BaseException | None) -> bool:
    """Did a concurrent append get there first (a unique key taken, a deadlock, a
    serialization failure)? Then running the append again will decide correctly."""
    state = _sqlstate(error)
    if isinstance(error, sa.exc.IntegrityError) and state is None:
        return "UNIQUE constraint failed" in str(error.orig)
    if state == "23505":  # unique_violation
        return isinstance(error, sa.exc.IntegrityError) or _is_asyncpg(error)
    return state in _RETRYABLE_SQLSTATES and (
        isinstance(error, sa.exc.DBAPIError) or _is_asyncpg(error)
    )


def _is_asyncpg(error: BaseException | None) -> bool:
    return type(error).__module__.startswith("asyncpg")
