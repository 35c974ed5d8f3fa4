"""The Kafka event bus passes the bus contract against a real broker (several partitions, many
people, a consumer group of two with one member killed mid-batch)."""

from __future__ import annotations

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
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert len(described["partitions"]) == 5
