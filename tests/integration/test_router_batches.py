"""How the router takes its batches, on both backends: from the checkpoint it last recorded,
without reading it again before each batch, yet never skipping or repeating an event when
another router moved the checkpoint meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.services.routing import CONSUMER
from tests.integration.test_routing import Hub as RoutingHub
from tests.integration.test_routing import (
    TinyPolicy,
    admission,
    all_events,
    append,
    expected_decisions,
    hub,
    recorded_decisions,
)

__all__ = ["hub"]  # the fixture, shared with the routing tests


@contextmanager
def checkpoint_reads(engine: AsyncEngine) -> Iterator[list[str]]:
    """The statements that read the router's checkpoint, as they run."""
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().startswith("SELECT") and "consumer_checkpoints" in statement:
            seen.append(statement)

    sa_event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", note)


@pytest.mark.asyncio
async def test_a_router_reads_its_checkpoint_once_and_then_keeps_it(hub: RoutingHub) -> None:
    await append(hub.store, *(admission(n) for n in range(400, 406)))
    router = hub.router(batch_size=2)
    with checkpoint_reads(hub.database.engine) as reads:
        assert [await router.run_once() for _ in range(4)] == [2, 2, 2, 0]
    assert len(reads) == 1


@pytest.mark.asyncio
async def test_a_checkpoint_moved_by_another_router_is_never_skipped_nor_repeated(
    hub: RoutingHub,
) -> None:
    await append(hub.store, *(admission(n) for n in range(500, 504)))
    mine, other = hub.router(batch_size=2), hub.router(batch_size=3)
    assert await mine.run_once() == 2  # it keeps checkpoint 2 …
    more = await append(hub.store, *(admission(n) for n in range(504, 507)))
    assert await other.run_once() == 3  # … while another router routes three more …
    assert await mine.run_once() == 2  # … so it reads again from there (after a lost race)
    assert mine.races_lost == 1
    assert (await mine.run_until_idle(), await other.run_until_idle()) == (0, 0)
    assert await hub.routing.checkpoint(CONSUMER) == more[-1]
    decided = await recorded_decisions(hub.database.engine)
    assert set(decided.values()) == {1}
    assert decided == expected_decisions(await all_events(hub.store), TinyPolicy())
    assert await count_checkpoints(hub.database.engine) == 1


async def count_checkpoints(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        query = sa.text("SELECT count(*) FROM consumer_checkpoints")
        return int((await connection.execute(query)).scalar_one())
