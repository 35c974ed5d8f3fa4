"""Kafka intake against a real broker, on each backend: an agency's notifications produced to
its intake topic are validated as the API validates them and appended once (a repeat is a
duplicate); poisoned messages (not JSON, invalid, another agency's source) land in the rejects
topic with the reason and their original bytes, and the consumer carries on past them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub import bootstrap
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import example
from tests.integration.kafka.routing_helpers import PATIENCE
from tests.integration.kafka.topic_reader import partitions_of


@pytest_asyncio.fixture
async def intake_settings(database: Database, kafka_bootstrap: str) -> AsyncIterator[Settings]:
    scope = uuid.uuid4().hex[:12]
    settings = database.settings.model_copy(
        update={
            "kafka_bootstrap": kafka_bootstrap,
            "kafka_events_topic": f"test.events.{scope}",
            "kafka_intake_agencies": ("sps", "police-scotland"),
            "kafka_intake_topic_prefix": f"test.intake.{scope}.",
            "kafka_intake_group": f"test.intake.{scope}",
            "kafka_rejects_topic": f"test.rejects.{scope}",
            "kafka_session_timeout_ms": 6_000,
        }
    )
    yield settings
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if scope in t]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def notification(event_type: str, **changes: Any) -> dict[str, Any]:
    raw = example(event_type)
    raw["id"] = str(uuid.uuid4())
    raw.update(changes)
    return raw


async def read_rejects(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        assigned = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        async with asyncio.timeout(PATIENCE):
            while len(found) < count:
                fetched = await consumer.getmany(timeout_ms=500)
                for records in fetched.values():
                    found.extend(records)
    finally:
        await consumer.stop()
    return found


@pytest.mark.asyncio
async def test_poisoned_messages_land_in_rejects_and_the_consumer_carries_on(
    intake_settings: Settings,
) -> None:
    settings = intake_settings
    assert settings.kafka_bootstrap is not None
    sps_topic = f"{settings.kafka_intake_topic_prefix}sps"
    admission = notification("custody.admission")
    schema_invalid = notification("custody.admission")
    del schema_invalid["data"]
    not_theirs = notification("mappa.referral")  # a social work source, produced by SPS
    transfer = notification("custody.transfer")
    produced: list[bytes] = [
        json.dumps(admission).encode(),
        b"{not json",
        json.dumps(schema_invalid).encode(),
        json.dumps(not_theirs).encode(),
        json.dumps(admission).encode(),  # a repeat: a duplicate, not a second event
        json.dumps(transfer).encode(),
    ]

    async with bootstrap.running(settings) as container:
        async with container.kafka_intake() as (intake, consumer):
            stop = asyncio.Event()
            taking = asyncio.create_task(intake.run(consumer, stop))
            producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
            await producer.start()
            try:
                for value in produced:
                    await producer.send_and_wait(sps_topic, value=value, key=b"pr2")
                async with asyncio.timeout(PATIENCE):
                    while intake.accepted + intake.rejected < len(produced):
                        assert not taking.done(), "the intake consumer stopped"
                        await asyncio.sleep(0.05)
                assert not taking.done(), "the intake consumer stopped"
            finally:
                await producer.stop()
                stop.set()
                await taking
        stored = await container.store.read_all(after=0)

    assert [e.notification.id for e in stored] == [admission["id"], transfer["id"]]
    assert {e.publisher.agency for e in stored} == {"sps"}
    assert intake.accepted == 3
    assert intake.rejected == 3

    rejects = await read_rejects(settings.kafka_bootstrap, settings.kafka_rejects_topic, 3)
    assert sorted(r.value for r in rejects) == sorted(produced[1:4])
    for record in rejects:
        headers = dict(record.headers)
        assert headers["agency"] == b"sps"
        assert headers["source_topic"] == sps_topic.encode()
        assert headers["reject_reason"], "no reason given"
        assert record.key == b"pr2"
    by_value = {r.value: dict(r.headers) for r in rejects}
    assert b"not JSON" in by_value[produced[1]]["reject_reason"]
    problems = json.loads(by_value[produced[2]]["reject_problems"])
    assert any(p["pointer"].startswith("/data") or p["pointer"] == "" for p in problems), problems
    assert b"PermissionDenied" in by_value[produced[3]]["reject_reason"]
