"""The Kafka delivery channel against a real broker, on both backends: a recipient's
disclosures arrive on its own topic in feed order, keyed by disclosure id, carrying only the
granted fields, signed (Standard Webhooks headers) under its channel secret; receipts are
recorded and logged as deliveries once the broker acknowledged; a channel that stops (or
crashes) before moving its checkpoint publishes that page again, and never skips one. As the
composition root builds it, the channel reads the feed with the data key, as webhooks do: the
granted fields in plaintext, a crypto-shredded person's sensitive fields absent."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition  # type: ignore[import-untyped]
from aiokafka.admin import AIOKafkaAdminClient  # type: ignore[import-untyped]
from pydantic import SecretStr
from standardwebhooks import Webhook

from hub import bootstrap
from hub.domain.audit.entries import AuditEntry
from hub.domain.protection import MARKER
from hub.infra import tables
from hub.infra.feed import SqlFeedStore
from hub.infra.kafka_delivery import KafkaDisclosureProducer
from hub.infra.protection import SqlPersonKeys, load_kek_ring
from hub.infra.relay_store import SqlRelayCheckpoints
from hub.services.kafka_delivery import KafkaDeliveryChannel
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import about_new_person, push, routed, rows

GLASGOW_SW = "sw-glasgow-city"
SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STORY = ("custody.admission", "release.schedule1-notification")


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


@pytest_asyncio.fixture
async def prefix(kafka_bootstrap: str) -> AsyncIterator[str]:
    name = f"test.disclosures.{uuid.uuid4().hex[:10]}."
    yield name
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        ours = [t for t in await admin.list_topics() if t.startswith(name)]
        if ours:
            await admin.delete_topics(ours)
    finally:
        await admin.close()


def channel(hub: RunningHub, bootstrap: str, prefix: str, batch_size: int = 100) -> Any:
    container = hub.container
    return KafkaDeliveryChannel(
        SqlFeedStore(container.engine, audit=container.audit_log, protection=container.protection),
        container.feed,
        SqlRelayCheckpoints(container.engine),
        KafkaDisclosureProducer(bootstrap),
        {GLASGOW_SW: SECRET},
        topic_prefix=prefix,
        batch_size=batch_size,
    )


async def read(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: list[Any] = []
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        async with asyncio.timeout(60):
            while len(found) < count:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found.extend(records)
        found.extend(r for rs in (await consumer.getmany(timeout_ms=1000)).values() for r in rs)
    finally:
        await consumer.stop()
    return found


@pytest.mark.asyncio
async def test_disclosures_arrive_on_the_recipients_topic_signed_and_redacted(
    hub: RunningHub, kafka_bootstrap: str, prefix: str
) -> None:
    publisher = await hub.token("sps")
    for _ in range(3):
        await push(hub, publisher, about_new_person(STORY))
    await routed(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    expected = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    assert len(expected) == 3
    # That read recorded the receipts through the feed; start from a fresh recipient view by
    # comparing the items only.
    delivery = channel(hub, kafka_bootstrap, prefix)
    try:
        assert await delivery.run_until_idle() == 3
        assert await delivery.run_once() == 0
    finally:
        await delivery._producer.close()
    records = await read(kafka_bootstrap, f"{prefix}{GLASGOW_SW}", 3)
    assert len(records) == 3
    for record, item in zip(records, expected, strict=True):
        headers = {k: v.decode() for k, v in record.headers}
        assert record.key == item["disclosure_id"].encode()
        assert headers["event_type"] == item["event_type"]
        assert headers["policy_version"] == item["policy_version"]
        Webhook(SECRET).verify(record.value, headers)
        body = json.loads(record.value)
        assert body["notification"] == item["notification"]  # only the granted fields
        assert body["seq"] == item["seq"]


@pytest.mark.asyncio
async def test_receipts_are_logged_after_the_broker_acknowledged_and_a_restart_resumes(
    hub: RunningHub, kafka_bootstrap: str, prefix: str
) -> None:
    publisher = await hub.token("sps")
    for _ in range(5):
        await push(hub, publisher, about_new_person(STORY))
    await routed(hub)

    first = channel(hub, kafka_bootstrap, prefix, batch_size=2)
    try:
        assert await first.run_once() == 2
    finally:
        await first._producer.close()
    # A crash after publishing the next page but before its checkpoint moved: simulated by
    # publishing it with a channel whose checkpoint store refuses to move.
    crashed = channel(hub, kafka_bootstrap, prefix, batch_size=2)

    class Stuck(SqlRelayCheckpoints):
        async def advance(self, consumer: str, after: int, through: int) -> bool:
            raise RuntimeError("killed before the checkpoint moved")

    crashed._checkpoints = Stuck(hub.container.engine)
    with pytest.raises(RuntimeError):
        await crashed.run_once()
    await crashed._producer.close()

    restarted = channel(hub, kafka_bootstrap, prefix, batch_size=2)
    try:
        assert await restarted.run_until_idle() == 3  # the repeated page, then the last one
    finally:
        await restarted._producer.close()
    records = await read(kafka_bootstrap, f"{prefix}{GLASGOW_SW}", 7)
    keys = [r.key.decode() for r in records]
    assert len(keys) == 7
    assert len(set(keys)) == 5  # every disclosure, one page of two twice
    seqs = [json.loads(r.value)["seq"] for r in records]
    assert seqs == [1, 2, 3, 4, 3, 4, 5]

    logged = [
        AuditEntry.from_canonical(r["entry"].encode())
        for r in await rows(
            hub,
            sa.select(tables.audit_entries.c.entry).where(
                tables.audit_entries.c.kind == "delivery"
            ),
        )
    ]
    assert sorted(e.details["disclosure_id"] for e in logged) == sorted(set(keys))
    assert {e.outcome for e in logged} == {"feed:kafka"}


async def erase(hub: RunningHub, person_id: str) -> None:
    """Crypto-shred the person (destroy their data keys), as `hub persons erase` does."""
    container = hub.container
    assert container.protection is not None
    keys = SqlPersonKeys(
        container.engine,
        load_kek_ring(container.settings),
        container.audit_log,
        container.protection.fields,
    )
    assert await keys.erase(person_id, reason="court order", actor="dpo")


@pytest.mark.asyncio
async def test_the_composed_channel_carries_granted_plaintext_and_no_shredded_field(
    hub: RunningHub, kafka_bootstrap: str, prefix: str
) -> None:
    """The channel as `hub serve --role delivery` builds it (`Container.kafka_delivery`): like a
    webhook, each message carries the plaintext of the fields granted, and a disclosure sent
    after its person was crypto-shredded carries none of their sensitive fields."""
    kept, erased = f"Lewd practices {uuid.uuid4().hex}", f"Indecent assault {uuid.uuid4().hex}"
    publisher = await hub.token("sps")
    first = about_new_person(STORY)
    first[1]["data"]["schedule1_offences"][0]["description"] = kept
    await push(hub, publisher, first)
    await routed(hub)
    settings = hub.container.settings.model_copy(
        update={
            "kafka_bootstrap": kafka_bootstrap,
            "kafka_delivery_channels": {GLASGOW_SW: SecretStr(SECRET)},
            "kafka_delivery_topic_prefix": prefix,
        }
    )
    async with bootstrap.running(settings) as composed, composed.kafka_delivery() as delivery:
        assert await delivery.run_until_idle() == 1

        second = about_new_person(STORY)
        second[1]["data"]["schedule1_offences"][0]["description"] = erased
        await push(hub, publisher, second)
        await routed(hub)
        release = await hub.container.store.get(second[1]["source"], second[1]["id"])
        assert release is not None
        await erase(hub, release.person_id)
        assert await delivery.run_until_idle() == 1

    records = await read(kafka_bootstrap, f"{prefix}{GLASGOW_SW}", 2)
    assert len(records) == 2
    bodies = [json.loads(r.value) for r in records]
    offences = [b["notification"]["data"]["schedule1_offences"] for b in bodies]
    assert offences[0][0]["description"] == kept  # granted, in plaintext
    assert offences[1], "the rest of the disclosure is there"
    assert all("description" not in o for o in offences[1])
    assert erased.encode() not in b"".join(r.value for r in records)
    assert MARKER.encode() not in b"".join(r.value for r in records)
    # What the recipient's feed (and a webhook) gives for the same disclosures.
    reader = await hub.token(GLASGOW_SW, "feed:read")
    items = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    assert [b["notification"] for b in bodies] == [i["notification"] for i in items]
