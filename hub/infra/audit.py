"""The audit trail in the hub's database (either backend): `hub.services.audit_ports.AuditLog` and
`AuditTree`, and the key that signs its checkpoints.

Entries are appended inside whatever transaction the operation being logged runs in
(`SqlAuditLog.append(connection, entries)`), so an operation and its audit entry commit or roll
back together. On PostgreSQL their positions come from `audit_entries_position_seq`, so the
sequencer follows them with the never-skip protocol of `hub.infra.visibility.PostgresHorizon`;
`append` does the writers' half itself (an xid before the INSERT calls `nextval`), so it may be
called at any point of the caller's transaction.
"""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit.checkpoint import CheckpointError, VerifierKey, load_or_create_signing_key
from hub.domain.audit.entries import AuditEntry
from hub.domain.audit.evidence import index_facts
from hub.domain.audit.records import (
    EntryRow,
    Leaf,
    LeafRow,
    SequencedEntry,
    StoredCheckpoint,
    StoredEntry,
    TreeHead,
)
from hub.domain.audit.subtrees import SubtreeKey
from hub.errors import InvalidInput, StoreError
from hub.infra.audit_pages import VerificationPages
from hub.infra.dberrors import translated
from hub.infra.store_driver import driver_connection
from hub.infra.store_sqlite import timestamp
from hub.infra.tables import (
    audit_checkpoints,
    audit_entries,
    audit_leaves,
    audit_subtrees,
)
from hub.infra.visibility import Horizon, PostgresHorizon, SqliteHorizon, hold_xid
from hub.services.audit_ports import AuditSigner
from hub.settings import Settings

__all__ = ["KEY_FILE", "SqlAuditLog", "load_audit_signer", "load_audit_signing_key"]

#: Where development and test hubs keep the generated checkpoint signing key, under `data_dir`.
KEY_FILE = Path("keys") / "audit-signing.pem"

#: Serialises sequencers on PostgreSQL for the rest of their transaction: an advisory lock keyed
#: by the leaves table's oid (so hubs in different schemas of one database do not contend).
#: `LOCK TABLE` would need the UPDATE/DELETE privilege the migration revokes.
_SEQUENCER_LOCK = sa.text("SELECT pg_advisory_xact_lock(CAST('audit_leaves' AS regclass)::bigint)")

#: SQLite: the append's inserts, run on aiosqlite's connection (`_insert_on_sqlite`).
_INSERT_FIRST_ENTRY = (
    "INSERT INTO audit_entries (kind, occurred_at, entry, recorded_at) VALUES (?, ?, ?, ?) "
    "RETURNING position"
)
_INSERT_MORE_ENTRIES = (
    "INSERT INTO audit_entries (position, kind, occurred_at, entry, recorded_at) "
    "VALUES (?, ?, ?, ?, ?)"
)
_INSERT_INDEX = (
    "INSERT INTO audit_index (position, kind, occurred_at, actor, person_id, recipient_id, "
    "event_id, purpose) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_RULES = "INSERT INTO audit_index_rules (rule, position) VALUES (?, ?)"

#: PostgreSQL: the entries, their index rows and their rules' rows in one statement, run on
#: asyncpg's own connection (`hub.infra.store_asyncpg` says why); the entries' positions drawn
#: in the entries' order, by the statement that inserts into `audit_entries` (so holding its
#: lock: `hub.infra.visibility`), and given back in it.
_INSERT_AUDIT = """
WITH numbered AS (
    SELECT nextval('audit_entries_position_seq') AS position, r.*
    FROM unnest(
        $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::text[], $9::text[]
    ) WITH ORDINALITY AS r(kind, occurred_at, entry, actor, person_id, recipient_id,
                           event_id, purpose, n)
    ORDER BY n
), entries AS (
    INSERT INTO audit_entries (position, kind, occurred_at, entry, recorded_at)
    SELECT position, kind, occurred_at, entry, $1::timestamptz FROM numbered
), indexed AS (
    INSERT INTO audit_index (
        position, kind, occurred_at, actor, person_id, recipient_id, event_id, purpose
    )
    SELECT position, kind, occurred_at, actor, person_id, recipient_id, event_id, purpose
    FROM numbered
), ruled AS (
    INSERT INTO audit_index_rules (rule, position)
    SELECT rules.rule, numbered.position
    FROM unnest($10::text[], $11::bigint[]) AS rules(rule, n)
    JOIN numbered ON numbered.n = rules.n
)
SELECT position FROM numbered ORDER BY n
"""


class SqlAuditLog:
    """The audit log and its Merkle tree on one SQLAlchemy engine."""

    def __init__(self, engine: AsyncEngine, *, visibility_timeout: float = 5.0) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        # SQLite: take the write lock when the transaction begins (see `hub.infra.db`); the
        # option means nothing to PostgreSQL.
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._horizon: Horizon = (
            PostgresHorizon(
                "audit_entries", "audit_entries_position_seq", timeout=visibility_timeout
            )
            if self._postgres
            else SqliteHorizon(audit_entries)
        )

    # -- writing entries -------------------------------------------------------------------------

    async def append(self, connection: AsyncConnection, entries: Sequence[AuditEntry]) -> list[int]:
        """Store the entries inside the caller's transaction on `connection`; their positions,
        in order. They commit or roll back with whatever else the transaction does."""
        if not entries:
            return []
        now = datetime.now(UTC)
        if self._postgres:
            # The writers' half of the never-skip protocol: an xid before `nextval`. (It also
            # makes sure the transaction has begun on the driver: `driver_connection`.)
            await hold_xid(connection)
            return await _insert_on_postgres(await driver_connection(connection), entries, now)
        if not connection.in_transaction():
            # What SQLAlchemy's first statement would do (autobegin), so that the entries
            # commit with the caller's work.
            await connection.begin()
        return await _insert_on_sqlite(await driver_connection(connection), entries, now)

    async def record(self, entries: Sequence[AuditEntry]) -> list[int]:
        """Store the entries in one transaction of their own."""
        async with self._connection(write=True) as connection, connection.begin():
            return await self.append(connection, entries)

    # -- the tree ----------------------------------------------------------------------------------

    async def head(self) -> TreeHead:
        async with self._connection() as connection:
            return await _head(connection)

    async def unsequenced(self, after: int, limit: int) -> list[StoredEntry]:
        async with self._connection(follower=True) as connection:
            horizon = await self._horizon(connection, after)
            if horizon <= after:
                return []
            query = (
                sa.select(audit_entries)
                .where(audit_entries.c.position > after, audit_entries.c.position <= horizon)
                .order_by(audit_entries.c.position)
                .limit(limit)
            )
            return [_entry(row) for row in (await connection.execute(query)).mappings()]

    async def subtrees(self, keys: Collection[SubtreeKey]) -> dict[SubtreeKey, bytes]:
        async with self._connection() as connection:
            return await _subtrees(connection, keys)

    async def add_leaves(
        self, head: TreeHead, leaves: Sequence[Leaf], subtrees: Sequence[tuple[int, int, bytes]]
    ) -> bool:
        try:
            async with self._connection(write=True) as connection, connection.begin():
                if self._postgres:
                    await connection.execute(_SEQUENCER_LOCK)
                if await _head(connection) != head:
                    return False
                if leaves:
                    await connection.execute(
                        audit_leaves.insert(),
                        [
                            {
                                "leaf_index": leaf.leaf_index,
                                "entry_position": leaf.entry_position,
                                "leaf_hash": leaf.leaf_hash,
                            }
                            for leaf in leaves
                        ],
                    )
                if subtrees:
                    await connection.execute(
                        audit_subtrees.insert(),
                        [{"level": lv, "index": ix, "hash": h} for lv, ix, h in subtrees],
                    )
        except StoreError as error:
            # A sequencer that did not take the lock (or a double assignment of one entry)
            # meets the unique keys: nothing of this batch was written.
            if isinstance(error.__cause__, sa.exc.IntegrityError):
                return False
            raise
        return True

    async def sequenced_entry(
        self, *, leaf_index: int | None = None, entry_position: int | None = None
    ) -> SequencedEntry | None:
        query = _sequenced_query()
        if leaf_index is not None:
            query = query.where(audit_leaves.c.leaf_index == leaf_index)
        if entry_position is not None:
            query = query.where(audit_leaves.c.entry_position == entry_position)
        async with self._connection() as connection:
            row = (await connection.execute(query.limit(1))).mappings().first()
        return _sequenced(row) if row is not None else None

    # -- checkpoints -------------------------------------------------------------------------------

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        async with self._connection() as connection:
            return await _latest_checkpoint(connection)

    async def checkpoint(self, tree_size: int) -> StoredCheckpoint | None:
        query = sa.select(audit_checkpoints).where(audit_checkpoints.c.tree_size == tree_size)
        async with self._connection() as connection:
            row = (await connection.execute(query)).mappings().first()
        return _checkpoint(row) if row is not None else None

    async def checkpoints(self, after_size: int = 0, limit: int = 1000) -> list[StoredCheckpoint]:
        async with self._connection() as connection:
            return await _checkpoints(connection, after_size, limit)

    async def add_checkpoint(self, checkpoint: StoredCheckpoint) -> bool:
        insert = postgresql.insert if self._postgres else sqlite.insert
        statement = (
            insert(audit_checkpoints)
            .values(
                tree_size=checkpoint.tree_size,
                root_hash=checkpoint.root_hash,
                note=checkpoint.note,
                signed_at=checkpoint.signed_at,
            )
            .on_conflict_do_nothing(index_elements=[audit_checkpoints.c.tree_size])
            .returning(audit_checkpoints.c.tree_size)
        )
        async with self._connection(write=True) as connection, connection.begin():
            return (await connection.execute(statement)).first() is not None

    # -- a consistent view for verification and export -------------------------------------------

    @asynccontextmanager
    async def snapshot(self) -> AsyncIterator[_SqlSnapshot]:
        """PostgreSQL: one REPEATABLE READ, read-only transaction. SQLite: one read transaction,
        which keeps the WAL snapshot of its first read."""
        options: dict[str, Any] = (
            {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
            if self._postgres
            else {}
        )
        async with self._connection(**options) as connection, connection.begin():
            if self._postgres:
                # Begin the transaction now (asyncpg's adapter begins it at the first statement):
                # the snapshot's pages are read from the driver, inside it.
                await connection.execute(sa.text("SELECT 1"))
            yield _SqlSnapshot(connection)

    # -- the boundary ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _connection(
        self, *, write: bool = False, follower: bool = False, **options: Any
    ) -> AsyncIterator[AsyncConnection]:
        """A connection whose driver errors leave as `StoreError`s (the cause kept)."""
        engine = self._writer if write else self._engine
        if follower and self._postgres:
            # Each statement of the horizon protocol must see a new snapshot.
            options["isolation_level"] = "AUTOCOMMIT"
        async with translated("the audit log"), engine.connect() as connection:
            if options:
                connection = await connection.execution_options(**options)
            yield connection


class _SqlSnapshot:
    """`hub.services.audit_ports.AuditSnapshot` on one connection inside one read transaction."""

    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection
        self._pages = VerificationPages(connection)

    async def entry_rows(self, after: int, limit: int) -> Sequence[EntryRow]:
        return await self._pages.entry_rows(after, limit)

    async def leaf_rows(self, start: int, limit: int) -> Sequence[LeafRow]:
        return await self._pages.leaf_rows(start, limit)

    async def completed_subtrees(self, first: int, last: int) -> dict[SubtreeKey, bytes]:
        return await self._pages.completed_subtrees(first, last)

    async def count_entries(self, after: int) -> int:
        query = (
            sa.select(sa.func.count())
            .select_from(audit_entries)
            .where(audit_entries.c.position > after)
        )
        return int((await self._connection.execute(query)).scalar_one())

    async def leaves(self, start: int, limit: int) -> list[Leaf]:
        query = (
            sa.select(
                audit_leaves.c.leaf_index, audit_leaves.c.entry_position, audit_leaves.c.leaf_hash
            )
            .where(audit_leaves.c.leaf_index >= start)
            .order_by(audit_leaves.c.leaf_index)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).all()
        return [Leaf(int(index), int(position), bytes(hashed)) for index, position, hashed in rows]

    async def sequenced(self, start: int, limit: int) -> list[SequencedEntry]:
        query = (
            _sequenced_query()
            .where(audit_leaves.c.leaf_index >= start)
            .order_by(audit_leaves.c.leaf_index)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).all()
        return [
            SequencedEntry(int(index), int(position), bytes(hashed), entry)
            for index, position, hashed, entry in rows
        ]

    async def leaves_with_hash(self, leaf_hash: bytes) -> list[int]:
        query = (
            sa.select(audit_leaves.c.leaf_index)
            .where(audit_leaves.c.leaf_hash == leaf_hash)
            .order_by(audit_leaves.c.leaf_index)
        )
        return [int(i) for i in (await self._connection.execute(query)).scalars()]

    async def subtrees(self, keys: Collection[SubtreeKey]) -> dict[SubtreeKey, bytes]:
        return await _subtrees(self._connection, keys)

    async def checkpoints(self, after_size: int, limit: int) -> list[StoredCheckpoint]:
        return await _checkpoints(self._connection, after_size, limit)

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        return await _latest_checkpoint(self._connection)


# -- the signing key -----------------------------------------------------------------------------


def load_audit_signing_key(settings: Settings) -> Ed25519PrivateKey:
    """`HUB_AUDIT_SIGNING_KEY` (an Ed25519 PEM private key); outside production only, the key
    generated once into `<data_dir>/keys/audit-signing.pem` (mode 0600) and reused."""
    if settings.audit_signing_key is not None:
        pem = settings.audit_signing_key.get_secret_value().encode("ascii", "replace")
        try:
            key = serialization.load_pem_private_key(pem, password=None)
        except (ValueError, TypeError) as error:
            raise InvalidInput(
                "HUB_AUDIT_SIGNING_KEY is not an unencrypted PEM private key"
            ) from error
        if not isinstance(key, Ed25519PrivateKey):
            raise InvalidInput("HUB_AUDIT_SIGNING_KEY must be an Ed25519 private key")
        return key
    if settings.environment == "production":
        raise InvalidInput("HUB_AUDIT_SIGNING_KEY must be set in production: it is never generated")
    path = settings.data_dir / KEY_FILE
    try:
        key = load_or_create_signing_key(path)
    except ValueError as error:
        raise InvalidInput(f"{path} is not a usable audit signing key: {error}") from error
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise InvalidInput(
            f"{path} can be read by other users (mode {mode:o}): run `chmod 600 {path}`"
        )
    return key


def load_audit_signer(settings: Settings) -> AuditSigner:
    """The log's origin, key name and signing key, from the settings."""
    for number, text in enumerate(settings.audit_previous_verifier_keys, start=1):
        try:
            VerifierKey.parse(text)
        except CheckpointError as error:
            raise InvalidInput(
                f"HUB_AUDIT_PREVIOUS_VERIFIER_KEYS: key {number} is not a verifier key as "
                f"`hub audit public-key` prints it ({error})"
            ) from error
    return AuditSigner(
        origin=settings.audit_origin,
        key_name=settings.audit_key_name,
        private_key=load_audit_signing_key(settings),
        previous_verifier_keys=tuple(settings.audit_previous_verifier_keys),
    )


# -- helpers -------------------------------------------------------------------------------------


async def _head(connection: AsyncConnection) -> TreeHead:
    query = (
        sa.select(audit_leaves.c.leaf_index, audit_leaves.c.entry_position)
        .order_by(audit_leaves.c.leaf_index.desc())
        .limit(1)
    )
    row = (await connection.execute(query)).first()
    if row is None:
        return TreeHead(0, 0)
    return TreeHead(int(row.leaf_index) + 1, int(row.entry_position))


async def _subtrees(
    connection: AsyncConnection, keys: Collection[SubtreeKey]
) -> dict[SubtreeKey, bytes]:
    """Level 0 from the leaves, the rest from `audit_subtrees`; each level's indexes fetched as
    runs of consecutive ones (a page of verification is one run per level)."""
    wanted = set(keys)
    by_level: dict[int, list[int]] = {}
    for level, index in wanted:
        by_level.setdefault(level, []).append(index)
    found: dict[SubtreeKey, bytes] = {}
    leaf_runs = list(_runs(by_level.pop(0, [])))
    if leaf_runs:
        query = sa.select(audit_leaves.c.leaf_index, audit_leaves.c.leaf_hash).where(
            sa.or_(*(audit_leaves.c.leaf_index.between(lo, hi) for lo, hi in leaf_runs))
        )
        for index, hashed in (await connection.execute(query)).all():
            found[(0, int(index))] = bytes(hashed)
    clauses = [
        sa.and_(audit_subtrees.c.level == level, audit_subtrees.c.index.between(lo, hi))
        for level, indexes in by_level.items()
        for lo, hi in _runs(indexes)
    ]
    if clauses:
        query = sa.select(
            audit_subtrees.c.level, audit_subtrees.c.index, audit_subtrees.c.hash
        ).where(sa.or_(*clauses))
        for level, index, hashed in (await connection.execute(query)).all():
            found[(int(level), int(index))] = bytes(hashed)
    return {key: value for key, value in found.items() if key in wanted}


def _runs(indexes: Collection[int]) -> Iterator[tuple[int, int]]:
    """Sorted runs of consecutive integers, as (first, last)."""
    ordered = sorted(indexes)
    if not ordered:
        return
    first = last = ordered[0]
    for index in ordered[1:]:
        if index != last + 1:
            yield first, last
            first = index
        last = index
    yield first, last


async def _latest_checkpoint(connection: AsyncConnection) -> StoredCheckpoint | None:
    query = sa.select(audit_checkpoints).order_by(audit_checkpoints.c.tree_size.desc()).limit(1)
    row = (await connection.execute(query)).mappings().first()
    return _checkpoint(row) if row is not None else None


async def _checkpoints(
    connection: AsyncConnection, after_size: int, limit: int
) -> list[StoredCheckpoint]:
    query = (
        sa.select(audit_checkpoints)
        .where(audit_checkpoints.c.tree_size > after_size)
        .order_by(audit_checkpoints.c.tree_size)
        .limit(limit)
    )
    return [_checkpoint(row) for row in (await connection.execute(query)).mappings()]


async def _insert_on_postgres(
    driver: Any, entries: Sequence[AuditEntry], now: datetime
) -> list[int]:
    """The entries, their index rows and rules in one statement (`_INSERT_AUDIT`) on asyncpg's
    connection; their positions, in order."""
    facts = [index_facts(entry) for entry in entries]
    rules = [(rule, n) for n, entry in enumerate(entries, start=1) for rule in entry.rules]
    records = await driver.fetch(
        _INSERT_AUDIT,
        now,
        [f["kind"] for f in facts],
        [f["occurred_at"] for f in facts],
        [entry.canonical_bytes().decode("utf-8") for entry in entries],
        [f["actor"] for f in facts],
        [f["person_id"] for f in facts],
        [f["recipient_id"] for f in facts],
        [f["event_id"] for f in facts],
        [f["purpose"] for f in facts],
        [rule for rule, _ in rules],
        [n for _, n in rules],
    )
    return [int(record[0]) for record in records]


async def _insert_on_sqlite(driver: Any, entries: Sequence[AuditEntry], now: datetime) -> list[int]:
    """The first entry numbered by AUTOINCREMENT, which takes the database's write lock if the
    transaction did not hold it yet; the others, in one executemany, at the positions that
    follow, which AUTOINCREMENT would have given them one by one (no other writer can insert
    before this transaction ends). SQLite cannot return the positions of a multi-row insert
    in the rows' order, so it would otherwise take one statement per entry. Then their index
    rows and rules, on aiosqlite's connection (`hub.infra.store_sqlite`: values as SQLAlchemy
    writes them)."""
    at = timestamp(now)
    rows = [
        (entry.kind.value, timestamp(entry.occurred_at), entry.canonical_bytes().decode(), at)
        for entry in entries
    ]
    [(first,)] = await driver.execute_fetchall(_INSERT_FIRST_ENTRY, rows[0])
    positions = [first + n for n in range(len(rows))]
    if len(rows) > 1:
        await driver.executemany(
            _INSERT_MORE_ENTRIES,
            [(p, *row) for p, row in zip(positions[1:], rows[1:], strict=True)],
        )
    index = []
    for position, entry in zip(positions, entries, strict=True):
        facts = index_facts(entry)
        index.append(
            (
                position,
                facts["kind"],
                timestamp(facts["occurred_at"]),
                facts["actor"],
                facts["person_id"],
                facts["recipient_id"],
                facts["event_id"],
                facts["purpose"],
            )
        )
    await driver.executemany(_INSERT_INDEX, index)
    rules = [(rule, p) for p, entry in zip(positions, entries, strict=True) for rule in entry.rules]
    if rules:
        await driver.executemany(_INSERT_RULES, rules)
    return positions


def _sequenced_query() -> sa.Select[Any]:
    return sa.select(
        audit_leaves.c.leaf_index,
        audit_leaves.c.entry_position,
        audit_leaves.c.leaf_hash,
        audit_entries.c.entry,
    ).join(audit_entries, audit_entries.c.position == audit_leaves.c.entry_position)


def _sequenced(row: sa.RowMapping) -> SequencedEntry:
    return SequencedEntry(
        leaf_index=int(row["leaf_index"]),
        position=int(row["entry_position"]),
        leaf_hash=bytes(row["leaf_hash"]),
        entry=row["entry"],
    )


def _entry(row: sa.RowMapping) -> StoredEntry:
    return StoredEntry(
        position=int(row["position"]),
        kind=row["kind"],
        occurred_at=_utc(row["occurred_at"]),
        entry=row["entry"],
    )


def _checkpoint(row: sa.RowMapping) -> StoredCheckpoint:
    return StoredCheckpoint(
        tree_size=int(row["tree_size"]),
        root_hash=bytes(row["root_hash"]),
        note=row["note"],
        signed_at=_utc(row["signed_at"]),
    )


def _utc(value: datetime) -> datetime:
    """SQLite gives back what was stored (UTC) without its offset; PostgreSQL an aware one."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
