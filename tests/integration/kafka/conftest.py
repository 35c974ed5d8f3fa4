"""Fixtures for the tests against a real Apache Kafka broker.

The broker is at `HUB_TEST_KAFKA_BOOTSTRAP` (default `127.0.0.1:9092`, what
`deploy/local/kafka.sh start` starts). In CI (`CI=true`) a missing broker fails every Kafka
test; elsewhere they are skipped with the command that starts one. Each test gets its own
topic (and consumer group names are scoped to it), deleted afterwards.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient

from hub.infra.kafka_bus import KafkaEventConsumer, KafkaEventPublisher

BOOTSTRAP = os.environ.get("HUB_TEST_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
IN_CI = os.environ.get("CI", "").lower() == "true"


async def _reachable(bootstrap: str) -> str | None:
    """None when the broker answers a metadata request, else why not."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
    try:
        async with asyncio.timeout(20):
            await admin.start()
            await admin.list_topics()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    finally:
        await admin.close()
    return None


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The bootstrap address of a running broker."""
    problem = asyncio.run(_reachable(BOOTSTRAP))
    if problem is not None:
        message = (
            f"Kafka is not reachable at {BOOTSTRAP} ({problem}): start it with "
            "`deploy/local/kafka.sh start` (or set HUB_TEST_KAFKA_BOOTSTRAP)"
        )
        if IN_CI:
            pytest.fail(message + "; the Kafka tests are never skipped in CI")
        pytest.skip(message)
    return BOOTSTRAP


@pytest_asyncio.fixture
async def topic(kafka_bootstrap: str) -> AsyncIterator[str]:
    """A topic name no other test uses; the topic is deleted afterwards if it was created."""
    name = f"test.events.{uuid.uuid4().hex[:12]}"
    yield name
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        if name in await admin.list_topics():
            await admin.delete_topics([name])
    finally:
        await admin.close()


class KafkaUnderTest:
    """Publishers and consumers on one test's topic (`BusUnderTest`)."""

    def __init__(self, bootstrap: str, topic: str, partitions: int) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.partitions = partitions

    def publisher(self, *, request_timeout_ms: int = 30_000) -> KafkaEventPublisher:
        return KafkaEventPublisher(
            self.bootstrap,
            self.topic,
            partitions=self.partitions,
            client_id="pph-test",
            request_timeout_ms=request_timeout_ms,
        )

    def consumer(self, group: str, *, batch_size: int = 50) -> KafkaEventConsumer:
        return KafkaEventConsumer(
            self.bootstrap,
            self.topic,
            f"{self.topic}.{group}",
            partitions=self.partitions,
            client_id="pph-test",
            batch_size=batch_size,
            poll_interval=0.2,
            # The broker's smallest session timeout, so that a member that went silent is
            # noticed soon; heartbeats often, so that rebalances are noticed soon.
            session_timeout_ms=6_000,
            heartbeat_interval_ms=500,
        )


@pytest.fixture
def kafka_bus(kafka_bootstrap: str, topic: str) -> KafkaUnderTest:
    return KafkaUnderTest(kafka_bootstrap, topic, partitions=6)
