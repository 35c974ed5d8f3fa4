"""`python -m tests.integration.kafka.consumer_runner BOOTSTRAP TOPIC GROUP PARTITIONS DB NAME`:
one member of a consumer group in a process of its own, whose effects are rows in the SQLite
file DB, recorded idempotently (by event position) in one transaction per batch, as a real
consumer records them beside its own checkpoint. Runs until SIGTERM, or SIGKILL.
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import sys
from collections.abc import Sequence

from hub.domain.notifications import StoredEvent
from hub.infra.kafka_bus import KafkaEventConsumer

SCHEMA = """
CREATE TABLE IF NOT EXISTS handed (position INTEGER, member TEXT);
CREATE TABLE IF NOT EXISTS applied (
    position INTEGER PRIMARY KEY, person_id TEXT, stream_version INTEGER, member TEXT
);
CREATE TABLE IF NOT EXISTS out_of_order (person_id TEXT, expected INTEGER, got INTEGER);
"""


def record(db: str, member: str, events: Sequence[StoredEvent]) -> None:
    connection = sqlite3.connect(db, timeout=60, isolation_level=None)
    try:
        connection.execute("BEGIN IMMEDIATE")
        for event in events:
            connection.execute("INSERT INTO handed VALUES (?, ?)", (event.position, member))
            if connection.execute(
                "SELECT 1 FROM applied WHERE position = ?", (event.position,)
            ).fetchone():
                continue  # a repeat: its effect is already recorded
            (last,) = connection.execute(
                "SELECT coalesce(max(stream_version), 0) FROM applied WHERE person_id = ?",
                (event.person_id,),
            ).fetchone()
            if event.stream_version != last + 1:
                connection.execute(
                    "INSERT INTO out_of_order VALUES (?, ?, ?)",
                    (event.person_id, last + 1, event.stream_version),
                )
            connection.execute(
                "INSERT INTO applied VALUES (?, ?, ?, ?)",
                (event.position, event.person_id, event.stream_version, member),
            )
        connection.execute("COMMIT")
    finally:
        connection.close()


async def main(bootstrap: str, topic: str, group: str, partitions: int, db: str, name: str) -> None:
    with sqlite3.connect(db, timeout=60) as connection:
        connection.executescript(SCHEMA)
    consumer = KafkaEventConsumer(
        bootstrap, topic, group, partitions=partitions, client_id=name, batch_size=10,
        poll_interval=0.2, session_timeout_ms=6_000, heartbeat_interval_ms=500,
    )  # fmt: skip

    async def handle(events: Sequence[StoredEvent]) -> None:
        record(db, name, events)
        await asyncio.sleep(0.05)  # a consumer with real work to do: the stream lasts a while

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await consumer.run(handle, stop)


if __name__ == "__main__":
    bootstrap, topic, group, partitions, db, name = sys.argv[1:7]
    asyncio.run(main(bootstrap, topic, group, int(partitions), db, name))
