"""The outbox relay's checkpoint (`hub.services.relay.RelayCheckpoints`) in the
`consumer_checkpoints` table, on PostgreSQL or SQLite.

The checkpoint moves only from the position the caller read it at, as the router's does
(`hub.infra.routing`): on PostgreSQL a second relay's UPDATE of the row waits for the first to
commit and then matches nothing; on SQLite writers begin with `BEGIN IMMEDIATE`, one at a time.
So of two relays that published the same batch, only one moves the checkpoint and neither moves
it backwards.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.infra.dberrors import translated
from hub.infra.tables import consumer_checkpoints

__all__ = ["SqlRelayCheckpoints"]


class SqlRelayCheckpoints:
    """`RelayCheckpoints` on the hub's database (either backend)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # SQLite: take the write lock when the transaction begins; nothing to PostgreSQL.
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._dialect = engine.dialect.name

    async def checkpoint(self, consumer: str) -> int:
        query = sa.select(consumer_checkpoints.c.position).where(
            consumer_checkpoints.c.consumer == consumer
        )
        async with translated("the relay checkpoint"), self._engine.connect() as connection:
            position = (await connection.execute(query)).scalar_one_or_none()
        return 0 if position is None else int(position)

    async def advance(self, consumer: str, after: int, through: int) -> bool:
        now = datetime.now(UTC)
        async with (
            translated("the relay checkpoint"),
            self._writer.connect() as connection,
            connection.begin(),
        ):
            moved = await connection.execute(
                consumer_checkpoints.update()
                .where(
                    consumer_checkpoints.c.consumer == consumer,
                    consumer_checkpoints.c.position == after,
                )
                .values(position=through, updated_at=now)
                .returning(consumer_checkpoints.c.consumer)
            )
            if moved.first() is not None:
                return True
            if after != 0:
                return False
            # The first batch: the row does not exist yet (or another relay just made it).
            created = await connection.execute(
                self._insert(consumer_checkpoints)
                .values(consumer=consumer, position=through, updated_at=now)
                .on_conflict_do_nothing(index_elements=[consumer_checkpoints.c.consumer])
                .returning(consumer_checkpoints.c.consumer)
            )
            return created.first() is not None

    def _insert(self, table: sa.Table) -> Any:
        """The backend's INSERT, which knows ON CONFLICT."""
        if self._dialect == "postgresql":
            return postgresql.insert(table)
        return sqlite.insert(table)
