"""Sensitive fields on the Kafka events topic, on both backends, with a real broker: the outbox
relay publishes them sealed, as the `events` table holds them, so the topic's bytes hold none of
their plaintext; a router worker opens them against the key store and decides exactly as the
in-process router does, the recipient's feed carrying the plaintext it was granted; once the
person is crypto-shredded, a router replaying the same messages from the beginning (a new
consumer group) finds those fields absent, decides as the in-process router now does, and does
not fail."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Collection, Mapping
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from hub.domain.disclosures import Disclosure, DisclosureDenial
from hub.domain.notifications import Notification
from hub.domain.person import Authorities, PersonProfile
from hub.domain.protection import MARKER
from hub.infra.protection import SqlPersonKeys, load_kek_ring
from hub.infra.store import SqlEventStore
from hub.services.bus import HEADER_POSITION
from hub.services.kafka_router import RoutedEvents, RouterWorker
from hub.services.ports import PolicyEngine, PolicyEvaluation
from tests.conftest import Database
from tests.integration.api_helpers import running_hub
from tests.integration.feed_helpers import push
from tests.integration.kafka.conftest import KafkaUnderTest
from tests.integration.kafka.routing_helpers import (
    PATIENCE,
    all_events,
    in_process_decisions,
    wait_until_routed,
)
from tests.integration.kafka.topic_reader import partitions_of
from tests.integration.test_encryption import (
    GLASGOW_SW,
    NHS,
    feed_text,
    health,
    story,
    unique,
)
from tests.integration.test_routing import Key, recorded_decisions

#: A health string of the example notification (`data.consent.recorded_by`).
RECORDED_BY = "prison mental health nurse"


async def raw_messages(
    bootstrap: str, topic: str, positions: Collection[int]
) -> dict[int, tuple[bytes, bytes]]:
    """The key and the value bytes of each message on `topic` by position, read from the
    beginning until every one of `positions` has been seen."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[int, tuple[bytes, bytes]] = {}
    try:
        assigned = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        async with asyncio.timeout(PATIENCE):
            while not set(positions) <= set(found):
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        position = int(dict(record.headers)[HEADER_POSITION])
                        found[position] = (record.key, record.value)
    finally:
        await consumer.stop()
    return found


class WatchedPolicy:
    """The hub's policy, noting the body of every notification it is asked about: what the
    router read."""

    def __init__(self, policy: PolicyEngine) -> None:
        self._policy = policy
        self.seen: dict[tuple[str, str], Mapping[str, Any]] = {}

    @property
    def version(self) -> str:
        return self._policy.version

    @property
    def statuses(self) -> Authorities:
        return self._policy.statuses

    def evaluate(
        self,
        notification: Notification,
        profile: Mapping[str, Any],
        *,
        follows_person_to: str | None = None,
    ) -> PolicyEvaluation:
        self.seen[notification.key] = notification.data
        return self._policy.evaluate(notification, profile, follows_person_to=follows_person_to)


class FromScratch:
    """A router's records kept in memory, starting with nothing routed: a router that replays
    the topic from the beginning without the hub's own records in its way."""

    def __init__(self) -> None:
        self.positions: set[int] = set()
        self.profiles: dict[str, tuple[PersonProfile, int | None]] = {}
        self.disclosures: list[Disclosure] = []
        self.denials: list[DisclosureDenial] = []

    async def routed(self, positions: Collection[int]) -> set[int]:
        return self.positions & set(positions)

    async def profiles_at(
        self, person_ids: Collection[str]
    ) -> dict[str, tuple[PersonProfile, int | None]]:
        return {p: self.profiles[p] for p in person_ids if p in self.profiles}

    async def record_routed(self, batch: RoutedEvents) -> bool:
        if any(e.position in self.positions for e in batch.events):
            return False
        versions: dict[str, int] = {}
        for event in batch.events:
            self.positions.add(event.position)
            versions[event.person_id] = max(versions.get(event.person_id, 0), event.stream_version)
        for profile in batch.profiles:
            self.profiles[profile.person_id] = (profile, versions[profile.person_id])
        # A decision held for review is the permitted decision it would be, proposed.
        self.disclosures.extend((*batch.disclosures, *(p.disclosure for p in batch.proposals)))
        self.denials.extend(batch.denials)
        return True

    def decisions(self) -> Counter[Key]:
        """Keyed as `in_process_decisions` keys them."""
        decided: Counter[Key] = Counter()
        for d in self.disclosures:
            decided[
                (d.event_position, d.recipient_id, d.trigger_position, True, d.fields, d.rules,
                 d.policy_version, d.profile_position)
            ] += 1  # fmt: skip
        for n in self.denials:
            decided[
                (n.event_position, n.recipient_id, n.trigger_position, False, (), n.rules,
                 n.policy_version, n.profile_position)
            ] += 1  # fmt: skip
        return decided


def offences(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = data["schedule1_offences"]
    return found


def sealed_key_id(value: Any) -> str:
    """The data key id a sealed value names (failing if `value` is not sealed)."""
    assert isinstance(value, dict), f"not sealed: {value!r}"
    assert set(value) == {MARKER}, f"not sealed: {value!r}"
    version, key_id, _ = value[MARKER].split(":", 2)
    assert version == "v1"
    return str(key_id)


@pytest.mark.asyncio
async def test_the_events_topic_carries_sealed_fields_that_crypto_shredding_makes_unreadable(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    settings = database.settings.model_copy(
        update={
            "kafka_bootstrap": kafka_bus.bootstrap,
            "kafka_events_topic": kafka_bus.topic,
            "kafka_events_partitions": kafka_bus.partitions,
            "kafka_router_group": f"{kafka_bus.topic}.routers",
            "kafka_session_timeout_ms": 6_000,
            "relay_poll_interval": 0.05,
            "delivery_enabled": False,
        }
    )
    summary = unique("Depressive disorder treated")
    erased_offence, kept_offence = unique("Lewd practices"), unique("Indecent assault")
    note = health(summary)
    erased_story, kept_story = story(erased_offence), story(kept_offence)
    plaintexts = (summary, erased_offence, kept_offence, RECORDED_BY)

    # Scaled out in one process: the relay publishes to the test's topic, a router worker (the
    # composition root's) routes from it.
    async with running_hub(settings) as hub:
        container = hub.container
        store = container.store
        await push(hub, await hub.token(NHS), [note])
        await push(hub, await hub.token("sps"), erased_story + kept_story)
        stored = await all_events(store)
        await wait_until_routed(container.engine, len(stored))

        # 1. The topic's bytes hold no plaintext of a sensitive field, only the sealed values.
        messages = await raw_messages(
            kafka_bus.bootstrap, kafka_bus.topic, [e.position for e in stored]
        )
        everything = b"\n".join(key + b"\n" + value for key, value in messages.values())
        for text in plaintexts:
            assert text.encode() not in everything, f"{text!r} is on the topic in plaintext"
        assert MARKER.encode() in everything
        by_id = {e.notification.id: e for e in stored}
        published = {
            json.loads(value)["notification"]["id"]: json.loads(value)["notification"]["data"]
            for _, value in messages.values()
        }
        health_data = published[note["id"]]
        assert health_data["category"] == note["data"]["category"]  # codes stay readable
        sealed_key_id(health_data["summary"])
        sealed_key_id(health_data["consent"]["recorded_by"])
        erased_release = published[erased_story[1]["id"]]
        erased_key = sealed_key_id(offences(erased_release)[0]["description"])
        kept_key = sealed_key_id(offences(published[kept_story[1]["id"]])[0]["description"])
        assert erased_key != kept_key  # one data key per person
        # The store reads them in plaintext.
        release = by_id[erased_story[1]["id"]]
        assert offences(release.notification.data)[0]["description"] == erased_offence

        # 2. The router worker decided on plaintext: exactly what the in-process router decides
        # on the same events, and the recipient's feed carries the text it was granted.
        assert await recorded_decisions(container.engine) == await in_process_decisions(
            store, stored, container.policy
        )
        feed = await feed_text(hub, GLASGOW_SW)
        assert erased_offence in feed
        assert kept_offence in feed

        # 3. Crypto-shredding one person.
        assert container.protection is not None
        keys = SqlPersonKeys(
            container.engine,
            load_kek_ring(container.settings),
            container.audit_log,
            container.protection.fields,
        )
        assert await keys.erase(release.person_id, reason="court order", actor="dpo") == [
            erased_key
        ]

        # A router replaying the same messages from the beginning (a new consumer group)...
        policy = WatchedPolicy(container.policy)
        routing = FromScratch()
        assert isinstance(store, SqlEventStore)
        replaying = RouterWorker(store, routing, lambda: policy)
        stop = asyncio.Event()
        running = asyncio.create_task(replaying.run(kafka_bus.consumer("replay"), stop))
        try:
            async with asyncio.timeout(PATIENCE):
                while len(routing.positions) < len(stored):
                    assert not running.done(), "the replaying router stopped"
                    await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(running, PATIENCE)
        running.result()  # it did not fail on what it could not open
        after = await all_events(store)

        # ... cannot read the shredded person's fields: they are absent, not garbage.
        erased_read = policy.seen[release.notification.key]
        assert offences(erased_read), "the rest of the event is still there"
        assert all("description" not in o for o in offences(erased_read))
        assert MARKER not in json.dumps(erased_read)
        kept_read = policy.seen[by_id[kept_story[1]["id"]].notification.key]
        assert offences(kept_read)[0]["description"] == kept_offence
        assert policy.seen[(note["source"], note["id"])]["summary"] == summary
        # It decides as the in-process router does on what the store now reads.
        assert routing.decisions() == await in_process_decisions(store, after, container.policy)
        assert replaying.routed == len(stored)

        # The messages themselves are as they were: the same ciphertext, now unreadable.
        again = await raw_messages(kafka_bus.bootstrap, kafka_bus.topic, [release.position])
        assert again[release.position] == messages[release.position]
