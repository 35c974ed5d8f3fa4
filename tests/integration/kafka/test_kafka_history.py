"""Imported history through the events topic, on each backend and a real broker: the relay
publishes `hub import`'s events with their history flag, and a router worker consuming the topic
folds them into profiles and discloses none of them, as the router that follows the store does
(docs/onboarding.md); a live admission afterwards takes the imported risk assessment to the
prison as a record that follows the person."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from hub.infra import tables
from hub.infra.audit import SqlAuditLog
from hub.infra.bulk_import import create_history_writer
from hub.infra.relay_store import SqlRelayCheckpoints
from hub.infra.routing import SqlRoutingStore
from hub.infra.store import SqlEventStore, create_event_store
from hub.services.kafka_router import RouterWorker
from hub.services.relay import Relay
from tests.conftest import Database
from tests.integration.kafka.conftest import KafkaUnderTest
from tests.integration.kafka.routing_helpers import (
    all_events,
    check_profiles,
    wait_for_members,
    wait_until_routed,
)
from tests.integration.test_routing import PR2, TinyPolicy, admission, append, event

pytestmark = pytest.mark.asyncio


async def test_history_on_the_topic_is_folded_disclosed_to_no_one_then_follows_the_person(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    engine = database.engine
    store = create_event_store(engine, audit=SqlAuditLog(engine))
    assert isinstance(store, SqlEventStore)
    writer = create_history_writer(engine, store=store, audit=SqlAuditLog(engine), protection=None)
    # Person 1: an assessment, imported. Person 2: an assessment and an admission, imported
    # (an imported admission sends no earlier record anywhere).
    imported = await writer.write(
        [
            event("risk.assessment-recorded", 1),
            event("risk.assessment-recorded", 2),
            admission(2, establishment="hmp-barlinnie"),
        ],
        PR2,
        history=True,
    )
    history = {r.position for r in imported}
    assert len(history) == 3

    policy = TinyPolicy()
    worker = RouterWorker(store, SqlRoutingStore(engine, audit=SqlAuditLog(engine)), lambda: policy)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(kafka_bus.consumer("routers", batch_size=20), stop))
    publisher = kafka_bus.publisher()
    try:
        await wait_for_members(kafka_bus.bootstrap, f"{kafka_bus.topic}.routers", 1)
        relay = Relay(store, SqlRelayCheckpoints(engine), publisher, batch_size=50)
        await relay.run_until_idle()
        await wait_until_routed(engine, 3)
        async with engine.connect() as connection:
            for table in (tables.disclosures, tables.disclosure_denials):
                count = await connection.scalar(sa.select(sa.func.count()).select_from(table))
                assert count == 0, f"history was decided on: {table.name}"
        await check_profiles(engine, store)

        # Later, live: person 1 is admitted to HMP Barlinnie.
        [live] = await append(store, admission(1, establishment="hmp-barlinnie"))
        await relay.run_until_idle()
        await wait_until_routed(engine, 4)
    finally:
        stop.set()
        await asyncio.gather(running, return_exceptions=True)
        await publisher.close()
    running.result()  # the worker did not fail

    d = tables.disclosures.c
    async with engine.connect() as connection:
        decided = {
            (r.event_position, r.recipient_id, r.trigger_position)
            for r in await connection.execute(
                sa.select(d.event_position, d.recipient_id, d.trigger_position)
            )
        }
    [assessment_1] = [r.position for r in imported[:1]]
    # The imported assessment followed person 1 to the prison, on the live admission's account;
    # nothing of person 2's history, and nothing else of it, was disclosed.
    assert (assessment_1, "hmp-barlinnie", live) in decided
    assert {e for e, _, _ in decided} & history == {assessment_1}
    assert {t for _, _, t in decided} == {live}
    await check_profiles(engine, store)
    assert len(await all_events(store)) == 4
