"""Router workers as the operator runs them, `hub serve --role router` processes in one consumer
group on PostgreSQL, one of them killed with SIGKILL in the middle of the stream: every event
still yields exactly the decisions the in-process router's logic calls for, once.

PostgreSQL only: several processes routing at once is the scaled-out deployment, which runs on
PostgreSQL (SQLite is the single-process embedded default).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from asyncio.subprocess import PIPE, STDOUT
from pathlib import Path

import pytest

from hub import bootstrap
from hub.infra.audit import SqlAuditLog
from hub.infra.relay_store import SqlRelayCheckpoints
from hub.infra.store import create_event_store
from hub.services.relay import Relay
from tests.conftest import Database
from tests.integration.kafka.conftest import KafkaUnderTest
from tests.integration.kafka.routing_helpers import (
    all_events,
    append_random,
    check_feeds,
    check_profiles,
    in_process_decisions,
    routed_count,
    wait_for_members,
    wait_until_routed,
)
from tests.integration.test_routing import expected_decisions, recorded_decisions

ROOT = Path(__file__).resolve().parents[3]


def hub_environment(database: Database, bus: KafkaUnderTest, **extra: str) -> dict[str, str]:
    settings = database.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "development",
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_KAFKA_BOOTSTRAP": bus.bootstrap,
            "HUB_KAFKA_EVENTS_TOPIC": bus.topic,
            "HUB_KAFKA_EVENTS_PARTITIONS": str(bus.partitions),
            "HUB_KAFKA_ROUTER_GROUP": f"{bus.topic}.routers",
            # The broker's smallest session timeout: a killed member is noticed soon.
            "HUB_KAFKA_SESSION_TIMEOUT_MS": "6000",
            **extra,
        }
    )
    if settings.database_url is not None:
        env["HUB_DATABASE_URL"] = settings.database_url.get_secret_value()
    if settings.database_schema is not None:
        env["HUB_DATABASE_SCHEMA"] = settings.database_schema
    return env


async def start_hub(
    database: Database, bus: KafkaUnderTest, role: str, **extra: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", "--role", role,
        env=hub_environment(database, bus, **extra), cwd=ROOT, stdout=PIPE, stderr=STDOUT,
    )  # fmt: skip


@pytest.mark.asyncio
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_router_process_killed_mid_stream_leaves_every_decision_made_once(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    # The settings the processes run with (keys generated once, before they start).
    async with bootstrap.running(database.settings) as container:
        policy = container.policy
        store = container.store
        await append_random(store, batches=100, per_batch=20, people=150, seed=31)
        stored = await all_events(store)
        doomed = await start_hub(database, kafka_bus, "router", HUB_ROUTER_BATCH_SIZE="5")
        survivor = await start_hub(database, kafka_bus, "router", HUB_ROUTER_BATCH_SIZE="5")
        publisher = kafka_bus.publisher()
        try:
            await wait_for_members(kafka_bus.bootstrap, f"{kafka_bus.topic}.routers", 2)
            relay = Relay(store, SqlRelayCheckpoints(container.engine), publisher)
            await relay.run_until_idle()
            await wait_until_routed(database.engine, len(stored) // 4, doomed, survivor)
            doomed.send_signal(signal.SIGKILL)
            await doomed.wait()
            killed_at = await routed_count(database.engine)
            await wait_until_routed(database.engine, len(stored), survivor)
        finally:
            await publisher.close()
            for process in (doomed, survivor):
                if process.returncode is None:
                    process.send_signal(signal.SIGTERM)
            outputs = [(await p.communicate())[0].decode() for p in (doomed, survivor)]
    assert doomed.returncode == -signal.SIGKILL, outputs[0]
    assert survivor.returncode == 0, outputs[1]
    assert killed_at < len(stored), "the worker was not killed mid-stream"

    assert await routed_count(database.engine) == len(stored)
    recorded = await recorded_decisions(database.engine)
    assert set(recorded.values()) == {1}, "a decision recorded twice"
    assert recorded == expected_decisions(stored, policy)
    in_process = await in_process_decisions(
        create_event_store(database.engine, audit=SqlAuditLog(database.engine)), stored, policy
    )
    assert recorded == in_process, "not what the in-process router decides"
    # The container's engine is disposed by now: read the store on the fixture's.
    await check_profiles(
        database.engine, create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    )
    await check_feeds(database.engine)
