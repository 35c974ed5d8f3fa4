"""What the feed, latency and overdue repositories share: the boundary that turns driver errors
into `StoreError`s, the backend's INSERT … ON CONFLICT, and time arithmetic that both backends
understand (SQLite keeps timestamps as UTC text, PostgreSQL as `timestamptz`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.infra.dberrors import translated
from hub.infra.tables import Timestamp

__all__ = ["Database", "at", "seconds_between", "utc"]


class Database:
    """An engine, with connections whose driver errors leave as `StoreError`s naming `what`."""

    def __init__(self, engine: AsyncEngine, what: str) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self._what = what
        # SQLite: writers take the lock when the transaction begins (see `hub.infra.db`).
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        # PostgreSQL: several statements that must agree read one snapshot.
        self._snapshot = (
            engine.execution_options(isolation_level="REPEATABLE READ")
            if self.dialect == "postgresql"
            else engine
        )

    @asynccontextmanager
    async def connect(
        self, *, write: bool = False, snapshot: bool = False
    ) -> AsyncIterator[AsyncConnection]:
        engine = self._writer if write else self._snapshot if snapshot else self.engine
        async with translated(f"the {self._what}"), engine.connect() as connection:
            yield connection

    def insert(self, table: sa.Table) -> Any:
        """The backend's INSERT, which knows ON CONFLICT."""
        if self.dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)

    def seconds_between(
        self, start: sa.ColumnElement[Any], end: sa.ColumnElement[Any]
    ) -> sa.ColumnElement[float]:
        return seconds_between(self.dialect, start, end)


def seconds_between(
    dialect: str, start: sa.ColumnElement[Any], end: sa.ColumnElement[Any]
) -> sa.ColumnElement[float]:
    """`end - start` in seconds, as a float, on either backend."""
    if dialect == "postgresql":
        return sa.cast(sa.extract("epoch", end - start), sa.Float)
    # julianday() reads the ISO text SQLite holds; a day is 86400 s (the hub stores UTC).
    return (sa.func.julianday(end) - sa.func.julianday(start)) * 86400.0


def at(moment: datetime) -> sa.ColumnElement[datetime]:
    """A timestamp parameter (in UTC: SQLite stores the wall-clock text without its offset)."""
    return sa.literal(moment.astimezone(UTC), Timestamp)


def utc(value: datetime) -> datetime:
    """SQLite gives back the UTC it stored without an offset; PostgreSQL an aware datetime."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
