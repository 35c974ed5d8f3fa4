"""Concurrent writers of the running totals (`hub.infra.metric_counters`), on both backends: the
router, the delivery worker, the feed and the overdue monitor each add to counter rows inside
their own write transactions, each touching the rows in whatever order its own work met them.
Since every writer locks the rows in one order (the key order of `Tally.rows`), none waits for
another in a cycle: no deadlock is detected, nothing is rolled back, and every count is the sum
of what was added."""

from __future__ import annotations

import asyncio
import random

import pytest
import sqlalchemy as sa

from hub.infra.metric_counters import DISCLOSED, NO_BUCKET, Tally, add_tally
from hub.infra.tables import metric_counters
from tests.conftest import Database

pytestmark = pytest.mark.asyncio

WRITERS = 8
ROUNDS = 6
KEYS = [(f"recipient-{r}", f"type-{t}") for r in range(6) for t in range(4)]


async def test_writers_meeting_the_rows_in_different_orders_never_deadlock(
    database: Database,
) -> None:
    engine = database.engine
    started = asyncio.Barrier(WRITERS)

    async def writer(seed: int) -> None:
        rng = random.Random(seed)
        await started.wait()
        for _ in range(ROUNDS):
            tally = Tally()
            for recipient_id, event_type in rng.sample(KEYS, len(KEYS)):  # its own order
                tally.count(recipient_id, event_type, DISCLOSED)
            async with engine.begin() as connection:  # one add per transaction, as each hook
                await add_tally(connection, tally)

    await asyncio.gather(*(writer(seed) for seed in range(WRITERS)))

    c = metric_counters.c
    async with engine.connect() as connection:
        found = {
            (r, e): n
            for r, e, n in await connection.execute(
                sa.select(c.recipient_id, c.event_type, c["count"]).where(
                    c.series == DISCLOSED, c.le == NO_BUCKET
                )
            )
        }
    assert found == dict.fromkeys(KEYS, WRITERS * ROUNDS)
