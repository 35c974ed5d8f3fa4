"""On a real broker, the hub's Kafka messages are CloudEvents in Kafka binary content mode that
the `cloudevents` SDK parses (docs/cloudevents.md): on the events topic, the notification's
attributes over the stored-event record; on a recipient's disclosures topic, the disclosure's
attributes over the feed item, whose `notification` is itself a structured CloudEvent."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka.admin import AIOKafkaAdminClient
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from hub.services.bus import encode_event
from hub.services.kafka_delivery import DISCLOSURE_SOURCE
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import about_new_person, push, routed
from tests.integration.kafka.bus_contract import stored_event
from tests.integration.kafka.conftest import KafkaUnderTest
from tests.integration.kafka.test_kafka_delivery import GLASGOW_SW, STORY, channel, read

pytestmark = pytest.mark.asyncio


def parsed(record: Any) -> Any:
    """The SDK's reading of one consumed record, in Kafka binary mode."""
    message = KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    return from_binary(message, JSONFormat())


async def test_the_events_topic_carries_binary_mode_cloudevents(
    kafka_bootstrap: str, topic: str
) -> None:
    bus = KafkaUnderTest(kafka_bootstrap, topic, partitions=1)
    events = [stored_event(position, person=3, version=position) for position in (1, 2, 3)]
    publisher = bus.publisher()
    try:
        await publisher.start()
        await publisher.publish(events)
    finally:
        await publisher.close()

    records = await read(kafka_bootstrap, topic, len(events))
    assert len(records) == len(events)
    for record, event in zip(records, events, strict=True):
        cloudevent = parsed(record)
        notification = event.notification
        assert cloudevent.get_specversion() == "1.0"
        assert cloudevent.get_id() == notification.id
        assert cloudevent.get_source() == notification.source
        assert cloudevent.get_type() == notification.type
        assert cloudevent.get_time() == notification.time
        assert cloudevent.get_datacontenttype() == "application/json"
        assert cloudevent.get_data() == json.loads(encode_event(event))
        assert cloudevent.get_extension("partitionkey") == event.person_id  # the key


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


@pytest_asyncio.fixture
async def prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    name = f"test.cedisclosures.{uuid.uuid4().hex[:10]}."
    yield name
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(name)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


async def test_the_disclosures_topic_carries_binary_mode_cloudevents(
    hub: RunningHub, kafka_bootstrap: str, prefix: str
) -> None:
    pushed = about_new_person(STORY)
    await push(hub, await hub.token("sps"), pushed)
    await routed(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    expected = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    assert expected
    delivery = channel(hub, kafka_bootstrap, prefix)
    try:
        assert await delivery.run_until_idle() == len(expected)
    finally:
        await delivery._producer.close()

    records = await read(kafka_bootstrap, f"{prefix}{GLASGOW_SW}", len(expected))
    assert len(records) == len(expected)
    for record, item in zip(records, expected, strict=True):
        cloudevent = parsed(record)
        assert cloudevent.get_specversion() == "1.0"
        assert cloudevent.get_id() == item["disclosure_id"]
        assert cloudevent.get_source() == DISCLOSURE_SOURCE
        assert cloudevent.get_type() == item["event_type"]
        assert cloudevent.get_time() == datetime.fromisoformat(item["decided_at"])
        assert cloudevent.get_datacontenttype() == "application/json"
        data = cloudevent.get_data()
        # The feed item (the API writes its times with `Z`, the channel with `+00:00`).
        for name in ("seq", "disclosure_id", "fields", "rules", "notification"):
            assert data[name] == item[name], name
        # The notification inside is a structured-mode CloudEvent in its own right.
        notification = from_http_event(
            HTTPMessage(
                headers={"content-type": "application/cloudevents+json"},
                body=json.dumps(data["notification"]).encode("utf-8"),
            )
        )
        assert notification.get_id() in {n["id"] for n in pushed}
        assert notification.get_source().startswith("urn:pph:hub:event:")
        assert notification.get_extension("pphspsnumber") == pushed[0]["identifiers"]["sps_number"]
        # No identifier travels in a header.
        values = b" ".join(value for _, value in record.headers)
        assert pushed[0]["identifiers"]["sps_number"].encode() not in values
