"""The Kafka event bus passes the bus contract against a real broker (several partitions, many
people, a consumer group of two with one member killed mid-batch)."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from hub.infra.kafka_bus import ensure_topics
from tests.integration.kafka.bus_contract import BusContract
from tests.integration.kafka.conftest import KafkaUnderTest


class TestKafkaBus(BusContract):
    @pytest.fixture
    def bus(self, kafka_bus: KafkaUnderTest) -> KafkaUnderTest:
        return kafka_bus


@pytest.mark.asyncio
async def test_topics_are_created_once_with_the_partitions_asked_for(
    kafka_bootstrap: str, topic: str
) -> None:
    assert await ensure_topics(kafka_bootstrap, {topic: 5}) == [topic]
    assert await ensure_topics(kafka_bootstrap, {topic: 5}) == []
    # An existing topic is left alone, whatever is asked for now.
    assert await ensure_topics(kafka_bootstrap, {topic: 9}) == []
    assert len(await partitions_of(kafka_bootstrap, topic)) == 5


async def partitions_of(bootstrap: str, topic: str) -> list[object]:
    """The topic's partitions once the broker's metadata lists them: a topic just created can be
    described with none for a moment on a loaded machine (CI saw `0 == 5`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        for _ in range(100):
            (described,) = await admin.describe_topics([topic])
            if described["partitions"]:
                return list(described["partitions"])
            await asyncio.sleep(0.1)
        return []
    finally:
        await admin.close()
