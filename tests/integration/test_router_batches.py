"""How the router's loop takes its batches, on both backends: sized by its time budget (a fake
clock says how long each batch took, so nothing here measures time), and from the checkpoint it
last recorded, without reading it again before each batch, yet never skipping or repeating an
event when another router moved the checkpoint meanwhile."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.disclosures import RoutedBatch
from hub.services.batch_budget import BatchBudget
from hub.services.routing import CONSUMER, Router
from tests.integration.test_routing import (
    TinyPolicy,
    admission,
    all_events,
    append,
    expected_decisions,
    hub,
    recorded_decisions,
)
from tests.integration.test_routing import Hub as RoutingHub

__all__ = ["hub"]  # the fixture, shared with the routing tests


class SteppingClock:
    """A clock that moves `step` seconds each time it is read: every batch the router times
    (one read as it begins, one as it ends) seems to take `step` seconds, whatever its size."""

    def __init__(self, step: float) -> None:
        self.step = step
        self.now = 0.0

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def recording_sizes(hub: RoutingHub) -> list[int]:
    """The number of positions in each batch the routing store records, in order."""
    sizes: list[int] = []
    record = hub.routing.record

    async def counted(consumer: str, batch: RoutedBatch) -> bool:
        recorded = await record(consumer, batch)
        if recorded:
            sizes.append(batch.through - batch.after)
        return recorded

    hub.routing.record = counted  # type: ignore[method-assign]
    return sizes


async def route_in_the_loop(router: Router, hub: RoutingHub, through: int) -> None:
    """Run the router's loop (as `hub serve` does) until it has routed through `through`."""
    stop = asyncio.Event()
    task = router.loop(poll_interval=0.05).start(stop)
    try:
        async with asyncio.timeout(60):
            while await hub.routing.checkpoint(CONSUMER) != through:  # noqa: ASYNC110
                await asyncio.sleep(0.01)
    finally:
        stop.set()
        async with asyncio.timeout(30):
            await task


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
async def test_the_loop_sizes_batches_by_the_time_the_last_ones_took(hub: RoutingHub) -> None:
    positions = await append(hub.store, *(admission(n) for n in range(100, 140)))
    sizes = recording_sizes(hub)
    # Each batch "takes" 10 ms; the budget is 30 ms: the first batch takes the least (3), and
    # each next one as many as the estimate of the time per event fits, growing as batches of
    # more events take no longer.
    budget = BatchBudget(0.03, most=100, least=3, clock=SteppingClock(0.01))
    router = hub.router(batch_size=100, budget=budget)
    await route_in_the_loop(router, hub, positions[-1])

    # 3 in 10 ms: 3.3 ms an event, 9 fit; then 1.1 ms (estimate 2.7 ms), 11; 0.9 ms (2.1), 14;
    # and the 3 left.
    assert sizes == [3, 9, 11, 14, 3]
    assert await recorded_decisions(hub.database.engine) == expected_decisions(
        await all_events(hub.store), TinyPolicy()
    )


@pytest.mark.asyncio
async def test_slow_batches_keep_the_loop_to_the_least(hub: RoutingHub) -> None:
    positions = await append(hub.store, *(admission(n) for n in range(200, 210)))
    sizes = recording_sizes(hub)
    # A second a batch, against a budget of 30 ms: never more than the least.
    budget = BatchBudget(0.03, most=100, least=4, clock=SteppingClock(1.0))
    await route_in_the_loop(hub.router(budget=budget), hub, positions[-1])
    assert sizes == [4, 4, 2]


@pytest.mark.asyncio
async def test_the_loop_takes_no_more_than_the_batch_size(hub: RoutingHub) -> None:
    positions = await append(hub.store, *(admission(n) for n in range(300, 312)))
    sizes = recording_sizes(hub)
    # Instant batches would let the budget take 100; the router's batch size is 5.
    budget = BatchBudget(0.03, most=100, least=5, clock=SteppingClock(0.0))
    await route_in_the_loop(hub.router(batch_size=5, budget=budget), hub, positions[-1])
    assert sizes == [5, 5, 2]


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
