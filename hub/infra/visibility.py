"""Never-skip followers: how far a follower may read a table whose positions come from a
sequence (PostgreSQL) or AUTOINCREMENT (SQLite) without missing a row that commits later.

Used by the event store (`events`) and the audit log (`audit_entries`). A follower keeps the last
position it processed and asks `horizon(connection, after)` before each read: rows with
`after < position <= horizon` are all there is, and will ever be, below the horizon.

Writers on PostgreSQL call `hold_xid(connection)` in their transaction before the INSERT that
draws the position (see `PostgresHorizon`); SQLite writers need nothing.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["XID", "Horizon", "PostgresHorizon", "SqliteHorizon", "hold_xid", "xid_held"]

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")

#: The first statement of a PostgreSQL writer's transaction, or at least one run before the
#: INSERT that calls `nextval`: the transaction then has an xid (and holds the lock on it) before
#: it holds a position, so that a follower can name it. Idempotent within a transaction.
_HOLD_XID = sa.text("SELECT pg_current_xact_id()")
#: The same as a column, for a writer that reads something else in its first statement anyway
#: (the event store's append); it then calls `xid_held`.
XID = sa.func.pg_current_xact_id()

#: The xids of the transactions that hold the lock an INSERT INTO the table takes (each
#: transaction holds an ExclusiveLock on its own xid, under the same virtual transaction).
_WRITERS = sa.text(
    """
    SELECT own.transactionid::text
    FROM pg_locks AS table_lock
    JOIN pg_locks AS own ON own.virtualtransaction = table_lock.virtualtransaction
    WHERE table_lock.locktype = 'relation'
      AND table_lock.relation = CAST(CAST(:relation AS text) AS regclass)
      AND table_lock.mode = 'RowExclusiveLock'
      AND table_lock.granted
      AND own.locktype = 'transactionid'
      AND own.mode = 'ExclusiveLock'
      AND own.granted
    """
)
#: Those of `xids` whose transactions are still running (they hold their xid's lock to the end).
_STILL_RUNNING = sa.text(
    """
    SELECT transactionid::text FROM pg_locks
    WHERE locktype = 'transactionid' AND mode = 'ExclusiveLock' AND granted
      AND transactionid::text = ANY(:xids)
    """
)


async def hold_xid(connection: AsyncConnection) -> None:
    """The writers' half of the PostgreSQL protocol: run in the writing transaction before the
    INSERT that draws a position from the sequence. Once per transaction: a second call in the
    same one (the event store's append, then its audit entries) costs no round trip."""
    transaction = _transaction(connection)
    if transaction is not None and connection.info.get("hub_xid_held_by") is transaction:
        return
    await connection.execute(_HOLD_XID)
    xid_held(connection)


def xid_held(connection: AsyncConnection) -> None:
    """Note that the transaction on `connection` has just read `XID`: `hold_xid` in it then
    costs nothing."""
    transaction = _transaction(connection)
    if transaction is not None:
        connection.info["hub_xid_held_by"] = transaction


def _transaction(connection: AsyncConnection) -> object | None:
    return connection.sync_connection.get_transaction() if connection.sync_connection else None


class Horizon(Protocol):
    """The highest position up to which no row of the table can still commit."""

    async def __call__(self, connection: AsyncConnection, after: int) -> int:
        """`after` is the caller's cursor: when the horizon is known to be at or below it there
        is no need to wait."""
        ...


class SqliteHorizon:
    """SQLite has one writer at a time, which holds the database lock from its INSERT (or, with
    `BEGIN IMMEDIATE`, from its first statement) to its commit: AUTOINCREMENT positions are
    handed out in commit order, so everything up to the highest stored position is final."""

    def __init__(self, table: sa.Table, position: str = "position") -> None:
        self._query = sa.select(sa.func.coalesce(sa.func.max(table.c[position]), 0))

    async def __call__(self, connection: AsyncConnection, after: int) -> int:
        return int((await connection.execute(self._query)).scalar_one())


class PostgresHorizon:
    """PostgreSQL: many writers at once, and followers that never skip.

    Why followers need care here: positions come from a sequence, and `nextval` hands them out
    when an INSERT runs, not when its transaction commits. A transaction holding position 10 may
    commit after one holding 11; a follower that has read 11 and asks for `position > 11` would
    never see 10. A table lock would order commits, but caps appends at ~1,900/s against
    ~8,500/s without it (8 connections, event store). Instead, writers never wait, and a follower
    reads only up to a horizon below which nothing can still commit:

    * Writers: before the INSERT, `hold_xid` (`SELECT pg_current_xact_id()`), so the transaction
      has an xid (and holds the lock on it) *before* its INSERT takes the table's
      RowExclusiveLock and calls `nextval`; it keeps both locks to its end.
    * Followers, each step a separate statement (autocommit, or READ COMMITTED, where each
      statement sees a new snapshot):
      1. read S, the sequence's high-water mark. A transaction holding a position <= S called
         `nextval` before this, so it already held the table's lock and its xid;
      2. list, from `pg_locks`, the xids of the transactions holding the table's
         RowExclusiveLock now: every such transaction that is still running is among them;
      3. wait (short sleeps, at most `timeout`) until all of those have finished;
      4. the caller reads the rows with after < position <= S. No transaction can add one there
         any more; gaps left by rolled-back writers stay gaps for ever, which is harmless.
      On timeout the horizon is the last one already proven safe (often nothing new), and the
      caller asks again later. Writers never wait for followers.

    Step 2 does not use the xids in progress of `pg_current_snapshot()`: a snapshot lists only
    running xids below its xmax (the latest *finished* xid + 1), so a writer whose xid is newer
    than every finished one is running yet not listed (writer A takes xid 100, B takes 101, B
    gets position 1, A gets 2 and commits: the snapshot is `101:101:`, and position 1 would be
    skipped; `tests/integration/test_store.py` has this case). Waiting only for writers of this
    table also keeps an unrelated long transaction elsewhere in the database from stalling
    followers.
    The sequence must not cache values per session (`CACHE 1`, as the migrations create it): a
    cached value could be used by a transaction that began after S was read.
    """

    def __init__(self, table: str, sequence: str, *, timeout: float = 5.0) -> None:
        for name in (table, sequence):
            if not _IDENTIFIER.fullmatch(name):
                raise ValueError(f"not a plain lower-case SQL identifier: {name!r}")
        self._table = table
        self.timeout = timeout
        #: The highest position the sequence has handed out (`last_value` before the first
        #: `nextval` is the start value, not yet handed out). The name is checked above.
        high_water = "CASE WHEN is_called THEN last_value ELSE last_value - 1 END"
        self._high_water = sa.text(f"SELECT {high_water} FROM {sequence}")  # noqa: S608
        #: A horizon once proven safe stays safe (positions below it can never appear again).
        self.proven = 0

    async def __call__(self, connection: AsyncConnection, after: int) -> int:
        high_water = int((await connection.execute(self._high_water)).scalar_one())
        if high_water <= max(after, self.proven):
            return high_water
        pending = list((await connection.execute(_WRITERS, {"relation": self._table})).scalars())
        deadline = time.monotonic() + self.timeout
        pause = 0.001
        while pending:
            if time.monotonic() >= deadline:
                return self.proven
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.02)
            pending = list((await connection.execute(_STILL_RUNNING, {"xids": pending})).scalars())
        self.proven = max(self.proven, high_water)
        return high_water
