"""The one compare-and-set of a consumer's checkpoint in `consumer_checkpoints`, shared by the
router's store (`hub.infra.routing`), the outbox relay's and the Kafka delivery channel's
(`hub.infra.relay_store`).

A checkpoint moves only from the position the caller read it at. The guarded UPDATE is also the
lock that serialises consumers of one name: on PostgreSQL a second consumer's UPDATE of the same
row waits for the first to commit and then matches no row (READ COMMITTED re-checks the
condition against the committed row); on SQLite writers begin with `BEGIN IMMEDIATE`, one at a
time, and the second sees the moved checkpoint. Either way the loser learns it lost before it
has written anything else in that transaction, and no checkpoint ever moves backwards.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.infra.tables import consumer_checkpoints

__all__ = ["advance_checkpoint", "read_checkpoint"]


async def read_checkpoint(connection: AsyncConnection, consumer: str) -> int:
    """`consumer`'s position (0 before its first batch)."""
    position = (
        await connection.execute(
            sa.select(consumer_checkpoints.c.position).where(
                consumer_checkpoints.c.consumer == consumer
            )
        )
    ).scalar_one_or_none()
    return 0 if position is None else int(position)


async def advance_checkpoint(
    connection: AsyncConnection, consumer: str, after: int, through: int, now: datetime
) -> bool:
    """Move `consumer`'s checkpoint from `after` to `through` in the caller's transaction;
    False, with nothing written, if it is not at `after`."""
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
    # The consumer's first batch: the row does not exist yet. Of two consumers inserting it, the
    # second waits for the first (PostgreSQL) or for the write lock (SQLite), then inserts
    # nothing.
    created = await connection.execute(
        _insert(connection)
        .values(consumer=consumer, position=through, updated_at=now)
        .on_conflict_do_nothing(index_elements=[consumer_checkpoints.c.consumer])
        .returning(consumer_checkpoints.c.consumer)
    )
    return created.first() is not None


def _insert(connection: AsyncConnection) -> Any:
    """The backend's INSERT, which knows ON CONFLICT."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(consumer_checkpoints)
    return sqlite.insert(consumer_checkpoints)
