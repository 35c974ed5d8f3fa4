"""`python -m tests.integration.kafka.relay_runner BOOTSTRAP TOPIC PARTITIONS BATCH`: the outbox
relay in a process of its own, on the database the `HUB_` environment names, until SIGTERM (or
SIGKILL, which is the point)."""

from __future__ import annotations

import asyncio
import signal
import sys

from hub.infra.audit import SqlAuditLog
from hub.infra.db import create_engine
from hub.infra.kafka_bus import KafkaEventPublisher
from hub.infra.relay_store import SqlRelayCheckpoints
from hub.infra.store import create_event_store
from hub.services.relay import Relay
from hub.settings import Settings


async def main(bootstrap: str, topic: str, partitions: int, batch_size: int) -> None:
    engine = create_engine(Settings())
    publisher = KafkaEventPublisher(
        bootstrap, topic, partitions=partitions, client_id="pph-test-relay"
    )
    relay = Relay(
        create_event_store(engine, audit=SqlAuditLog(engine)),
        SqlRelayCheckpoints(engine),
        publisher,
        batch_size=batch_size,
        poll_interval=0.05,
        retry_interval=0.2,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("relay running", flush=True)
    try:
        await relay.run(stop)
    finally:
        await publisher.close()
        await engine.dispose()


if __name__ == "__main__":
    bootstrap, topic, partitions, batch = sys.argv[1:5]
    asyncio.run(main(bootstrap, topic, int(partitions), int(batch)))
