"""`OperationalGaugesReader` on the hub's database (either backend): one statement of scalar
subqueries, each answered from an index, so that a scrape costs the same at 10⁶ disclosures
as at 10³.

What each part costs:
- queue depth and jobs failing: a range of `ix_deliveries_due` (status, next_attempt_at) over
  the pending jobs only (the backlog, not the history of delivered ones);
- dead letters: the same index's range of dead jobs (as many as the dead-letter queue holds);
- audit sequencer lag: `max(position)` of the entries (their primary key) and of the leaves'
  `entry_position` (its unique index): two index end-points;
- latest checkpoint: the last row of `audit_checkpoints` by its primary key.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.infra.dberrors import translated
from hub.infra.tables import audit_checkpoints, audit_entries, audit_leaves, deliveries
from hub.services.operations import OperationalGauges

__all__ = ["SqlOperationalGauges"]


class SqlOperationalGauges:
    """`OperationalGaugesReader` over the hub's tables."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def operational_gauges(self) -> OperationalGauges:
        def count(*where: sa.ColumnElement[bool]) -> sa.ScalarSelect[int]:
            jobs = sa.select(sa.func.count()).select_from(deliveries)
            return jobs.where(*where).scalar_subquery()

        pending = deliveries.c.status == "pending"
        head = sa.select(sa.func.coalesce(sa.func.max(audit_entries.c.position), 0))
        sequenced = sa.select(sa.func.coalesce(sa.func.max(audit_leaves.c.entry_position), 0))
        signed_at = (
            sa.select(audit_checkpoints.c.signed_at)
            .order_by(audit_checkpoints.c.tree_size.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = sa.select(
            count(pending),
            count(pending, deliveries.c.attempts > 0),
            count(deliveries.c.status == "dead"),
            head.scalar_subquery(),
            sequenced.scalar_subquery(),
            signed_at,
        )
        async with translated("the operational gauges"), self._engine.connect() as connection:
            row = (await connection.execute(query)).one()
        return OperationalGauges(
            delivery_queue=int(row[0]),
            deliveries_failing=int(row[1]),
            dead_letters=int(row[2]),
            audit_sequencer_lag=max(int(row[3]) - int(row[4]), 0),
            checkpoint_signed_at=_aware(row[5]),
        )


def _aware(value: datetime | str | None) -> datetime | None:
    if isinstance(value, str):  # SQLite returns a scalar subquery's timestamp as text
        value = datetime.fromisoformat(value)
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value
