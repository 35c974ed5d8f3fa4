"""Router workers consuming the events topic (`hub.services.kafka_router`), on each backend:
whatever order and however often the topic hands events over, each event yields exactly the
decisions the in-process router's logic calls for, once, with each person's profile built in
stream order, and every recipient's feed numbered without a gap.

The first test needs no broker (it hands events to a worker directly, repeated, out of order and
with gaps); the others run two workers in one group on a real broker.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest
import sqlalchemy as sa

from hub.domain.policy import PolicyBundle
from hub.domain.schemas import SchemaRegistry
from hub.infra import tables
from hub.infra.audit import SqlAuditLog
from hub.infra.db import create_engine
from hub.infra.relay_store import SqlRelayCheckpoints
from hub.infra.routing import SqlRoutingStore
from hub.infra.store import create_event_store
from hub.services.kafka_router import RouterWorker
from hub.services.relay import Relay
from tests.conftest import Database
from tests.integration.kafka.conftest import KafkaUnderTest
from tests.integration.kafka.routing_helpers import (
    all_events,
    append_random,
    check_feeds,
    check_profiles,
    in_process_decisions,
    routed_count,
    wait_for_members,
    wait_until_routed,
)
from tests.integration.test_reviews import RULE, reviewed_bundle
from tests.integration.test_routing import (
    TinyPolicy,
    append,
    event,
    expected_decisions,
    recorded_decisions,
)


@pytest.mark.asyncio
async def test_repeats_are_skipped_and_gaps_filled_from_the_store(database: Database) -> None:
    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    await append_random(store, batches=20, per_batch=10, people=12, seed=21)
    stored = await all_events(store)
    policy = TinyPolicy()
    worker = RouterWorker(
        store, SqlRoutingStore(database.engine, audit=SqlAuditLog(database.engine)), lambda: policy
    )

    # Handed over as a topic at its worst: random handfuls (later events before earlier ones
    # of the same person, events seen before), then everything again.
    rng = random.Random(5)
    for _ in range(30):
        await worker.handle(rng.sample(stored, 12))
    await worker.handle(stored)
    await worker.handle(stored)

    assert worker.filled > 0, "no gap was filled from the store"
    assert worker.repeats > 0, "nothing was handed over twice"
    assert worker.routed == len(stored) == await routed_count(database.engine)
    recorded = await recorded_decisions(database.engine)
    assert set(recorded.values()) == {1}, "a decision recorded twice"
    assert recorded == expected_decisions(stored, TinyPolicy())
    assert recorded == await in_process_decisions(store, stored, TinyPolicy())
    await check_profiles(database.engine, store)
    await check_feeds(database.engine)


@pytest.mark.asyncio
async def test_a_worker_holds_a_reviewed_decision_as_a_proposal_delivered_to_no_one(
    database: Database, tmp_path: Path
) -> None:
    """Issue 15: a router worker records a decision under a rule with `review` as a proposal,
    once however often the topic hands the event over, and never as a disclosure or feed item;
    the recipients without review get theirs as usual."""
    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    policy = PolicyBundle.load(
        reviewed_bundle(tmp_path), SchemaRegistry.load(database.settings.events_dir)
    )
    await append(store, event("release.schedule1-notification", 1))
    stored = await all_events(store)
    worker = RouterWorker(
        store, SqlRoutingStore(database.engine, audit=SqlAuditLog(database.engine)), lambda: policy
    )
    await worker.handle(stored)
    await worker.handle(stored)

    async with database.engine.connect() as connection:
        proposals = (await connection.execute(sa.select(tables.disclosure_proposals))).mappings()
        proposed = [(p["recipient_id"], p["rules"], p["reviewers"]) for p in proposals]
        disclosed = {
            r["recipient_id"]
            for r in (await connection.execute(sa.select(tables.disclosures))).mappings()
        }
        fed = {
            r["recipient_id"]
            for r in (await connection.execute(sa.select(tables.recipient_feed))).mappings()
        }
    # The fixture's social work rule, and the bundle's own housing rule (reviewed by the prison).
    assert sorted(proposed) == [
        ("housing-glasgow-city", ["schedule1-release-to-housing"], ["sps"]),
        ("sw-glasgow-city", [RULE], ["mappa-glasgow"]),
    ]
    assert disclosed, "the recipients without review were told"
    assert not {"sw-glasgow-city", "housing-glasgow-city"} & (disclosed | fed)
    assert disclosed == fed


@pytest.mark.asyncio
async def test_two_workers_in_a_group_route_each_event_once_in_each_persons_order(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    store = create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    policy = TinyPolicy()
    group = f"{kafka_bus.topic}.routers"
    engines = [create_engine(database.settings) for _ in range(2)]
    workers = [
        RouterWorker(
            create_event_store(e, audit=SqlAuditLog(e)),
            SqlRoutingStore(e, audit=SqlAuditLog(e)),
            lambda: policy,
        )
        for e in engines
    ]
    stop = asyncio.Event()
    running = [
        asyncio.create_task(w.run(kafka_bus.consumer("routers", batch_size=20), stop))
        for w in workers
    ]
    publisher = kafka_bus.publisher()
    try:
        await wait_for_members(kafka_bus.bootstrap, group, 2)
        relay = Relay(store, SqlRelayCheckpoints(database.engine), publisher, batch_size=50)
        for seed in range(6):  # appended and relayed while the workers route
            await append_random(store, batches=10, per_batch=10, people=40, seed=100 + seed)
            await relay.run_until_idle()
        stored = await all_events(store)
        await wait_until_routed(database.engine, len(stored))
    finally:
        stop.set()
        await asyncio.gather(*running, return_exceptions=True)
        await publisher.close()
        for engine in engines:
            await engine.dispose()
    for task in running:
        task.result()  # neither worker failed

    assert all(w.routed > 0 for w in workers), "the partitions were not shared"
    assert sum(w.routed for w in workers) == len(stored)
    recorded = await recorded_decisions(database.engine)
    assert set(recorded.values()) == {1}, "a decision recorded twice"
    assert recorded == expected_decisions(stored, TinyPolicy())
    assert recorded == await in_process_decisions(store, stored, TinyPolicy())
    await check_profiles(database.engine, store)
    await check_feeds(database.engine)
