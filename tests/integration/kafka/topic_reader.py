"""Reads a whole events topic back, partition by partition, to check what the relay published."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from hub.domain.notifications import StoredEvent
from hub.services.bus import HEADER_EVENT_TYPE, HEADER_POSITION, decode_event


async def partitions_of(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    assert described["error_code"] == 0, f"no topic {topic}: {described}"
    return sorted(p["partition"] for p in described["partitions"])


async def read_topic(
    bootstrap: str, topic: str, positions: set[int], seconds: float = 120.0
) -> dict[int, list[StoredEvent]]:
    """Every message of `topic` from the beginning, per partition in offset order, read until
    every position of `positions` has been seen (or `seconds` have passed: then it fails)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    found: dict[int, list[StoredEvent]] = defaultdict(list)
    seen: set[int] = set()
    try:
        assigned = [TopicPartition(topic, p) for p in await partitions_of(bootstrap, topic)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        async with asyncio.timeout(seconds):
            while not positions <= seen:
                fetched = await consumer.getmany(timeout_ms=500)
                for tp, records in fetched.items():
                    for record in records:
                        event = decode_event(record.value)
                        headers = dict(record.headers)
                        assert record.key == event.person_id.encode()
                        assert headers[HEADER_POSITION] == str(event.position).encode()
                        assert headers[HEADER_EVENT_TYPE] == event.notification.type.encode()
                        found[tp.partition].append(event)
                        seen.add(event.position)
        # Whatever else is already there (a repeat published after the last new event).
        while fetched := await consumer.getmany(timeout_ms=1000):
            for tp, records in fetched.items():
                found[tp.partition].extend(decode_event(r.value) for r in records)
    finally:
        await consumer.stop()
    return dict(found)


def check_order(found: dict[int, list[StoredEvent]], expected: list[StoredEvent]) -> dict[int, int]:
    """Assert that the topic holds every expected event, unchanged, each person on one partition
    in stream order once repeats are dropped; how often each position appears."""
    counts: dict[int, int] = defaultdict(int)
    partition_of: dict[str, int] = {}
    last_version: dict[str, int] = defaultdict(int)
    wanted = {e.position: e for e in expected}
    for partition, events in found.items():
        for event in events:
            counts[event.position] += 1
            assert event == wanted[event.position], f"event {event.position} changed"
            assert partition_of.setdefault(event.person_id, partition) == partition, (
                f"{event.person_id} is on two partitions"
            )
            if event.stream_version <= last_version[event.person_id]:
                continue  # a repeat
            assert event.stream_version == last_version[event.person_id] + 1, (
                f"{event.person_id}: version {event.stream_version} after "
                f"{last_version[event.person_id]}"
            )
            last_version[event.person_id] = event.stream_version
    assert set(counts) == set(wanted), "events missing from the topic"
    return counts
