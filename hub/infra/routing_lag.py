"""The router's lag from the database (`hub.services.routing_lag`): one statement reads the
store's head, the router's checkpoint and when the first event after it was stored."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.infra.dberrors import translated
from hub.infra.tables import consumer_checkpoints, events
from hub.services.routing_lag import RouterLag

__all__ = ["SqlRouterLag"]


class SqlRouterLag:
    """`RouterLagReader` on the hub's database (either backend)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def router_lag(self, consumer: str) -> RouterLag:
        checkpoint = sa.func.coalesce(
            sa.select(consumer_checkpoints.c.position)
            .where(consumer_checkpoints.c.consumer == consumer)
            .scalar_subquery(),
            0,
        )
        head = sa.select(sa.func.coalesce(sa.func.max(events.c.position), 0)).scalar_subquery()
        # The primary key's index finds the first waiting event without reading the others.
        oldest = (
            sa.select(events.c.recorded_at)
            .where(events.c.position > checkpoint)
            .order_by(events.c.position)
            .limit(1)
            .scalar_subquery()
        )
        query = sa.select(checkpoint.label("checkpoint"), head.label("head"), oldest)
        async with translated("the routing store"), self._engine.connect() as connection:
            row = (await connection.execute(query)).one()
        waiting = row[2]
        if isinstance(waiting, str):  # SQLite returns a scalar subquery's timestamp as text
            waiting = datetime.fromisoformat(waiting)
        if waiting is not None and waiting.tzinfo is None:
            waiting = waiting.replace(tzinfo=UTC)
        return RouterLag(checkpoint=int(row[0]), head=int(row[1]), oldest_waiting_since=waiting)
