"""The outbox relay's checkpoint (`hub.services.relay.RelayCheckpoints`) in the
`consumer_checkpoints` table, on PostgreSQL or SQLite; the Kafka delivery channel keeps its
per-recipient cursors here too.

The checkpoint moves only from the position the caller read it at (`hub.infra.checkpoints`, the
same compare-and-set as the router's): of two relays that published the same batch, only one
moves the checkpoint and neither moves it backwards.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.infra.checkpoints import advance_checkpoint, read_checkpoint
from hub.infra.dberrors import translated

__all__ = ["SqlRelayCheckpoints"]


class SqlRelayCheckpoints:
    """`RelayCheckpoints` on the hub's database (either backend)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # SQLite: take the write lock when the transaction begins; nothing to PostgreSQL.
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    async def checkpoint(self, consumer: str) -> int:
        async with translated("the relay checkpoint"), self._engine.connect() as connection:
            return await read_checkpoint(connection, consumer)

    async def advance(self, consumer: str, after: int, through: int) -> bool:
        async with (
            translated("the relay checkpoint"),
            self._writer.connect() as connection,
            connection.begin(),
        ):
            return await advance_checkpoint(connection, consumer, after, through, datetime.now(UTC))
