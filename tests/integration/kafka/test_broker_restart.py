"""The hub scaled out in one process (`hub serve`, role all, with `HUB_KAFKA_BOOTSTRAP`): the
broker is stopped and started again while agencies keep pushing notifications through the API.
The API keeps accepting them (the event store is the outbox), and once the broker is back the
relay catches up and the router workers route every event, each decision once.

PostgreSQL only: the scaled-out deployment runs on PostgreSQL; the Kafka path on SQLite is
covered by `test_router_workers.py`.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from typing import Any

import pytest

from hub.infra.audit import SqlAuditLog
from hub.infra.store import create_event_store
from tests.conftest import Database
from tests.integration.api_helpers import bearer, example, running_hub
from tests.integration.kafka.conftest import IN_CI, KafkaUnderTest
from tests.integration.kafka.routing_helpers import (
    PATIENCE,
    all_events,
    check_feeds,
    check_profiles,
    in_process_decisions,
    wait_until_routed,
)
from tests.integration.kafka.test_relay import kafka_sh
from tests.integration.test_routing import expected_decisions, recorded_decisions

#: Notifications the prison service publishes (its sources are `urn:pph:sps:pr2:…`).
SPS_KINDS = (
    "custody.admission",
    "custody.liberation",
    "custody.transfer",
    "release.schedule1-notification",
)


def notification(n: int) -> dict[str, Any]:
    raw = example(SPS_KINDS[n % len(SPS_KINDS)])
    raw["id"] = str(uuid.uuid4())
    raw["identifiers"] = {"sps_number": str(7_100_000 + (n * 7919) % 60)}
    return raw


@pytest.mark.asyncio
@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.serial  # stops the shared broker
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_the_api_keeps_accepting_while_the_broker_restarts_and_routing_catches_up(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    code, output = await kafka_sh("status", kafka_bus.bootstrap)
    if code != 0:
        message = f"the broker at {kafka_bus.bootstrap} is not one kafka.sh runs: {output}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    settings = database.settings.model_copy(
        update={
            "kafka_bootstrap": kafka_bus.bootstrap,
            "kafka_events_topic": kafka_bus.topic,
            "kafka_events_partitions": kafka_bus.partitions,
            "kafka_router_group": f"{kafka_bus.topic}.routers",
            "kafka_request_timeout_ms": 5_000,
            "kafka_session_timeout_ms": 6_000,
            "relay_poll_interval": 0.05,
            "delivery_enabled": False,
        }
    )
    accepted = 0
    more = asyncio.Event()
    stop_pushing = asyncio.Event()

    async with running_hub(settings) as hub:
        token = await hub.token("sps", scopes="events:publish")

        async def keep_pushing() -> None:
            nonlocal accepted
            for n in itertools.count():
                if stop_pushing.is_set():
                    return
                answer = await hub.http.post(
                    "/v1/events", json=notification(n), headers=bearer(token)
                )
                assert answer.status_code == 201, answer.text
                accepted += 1
                more.set()
                await asyncio.sleep(0.01)

        async def until_accepted(count: int) -> None:
            async with asyncio.timeout(PATIENCE):
                while accepted < count:
                    more.clear()
                    await more.wait()

        pushing = asyncio.create_task(keep_pushing())
        try:
            await wait_until_routed(database.engine, 50)
            code, output = await kafka_sh("stop", kafka_bus.bootstrap)
            assert code == 0, output
            await until_accepted(accepted + 150)  # accepted while the broker is down
            code, output = await kafka_sh("start", kafka_bus.bootstrap)
            assert code == 0, output
            await until_accepted(accepted + 100)
            stop_pushing.set()
            await pushing
            stored = await all_events(hub.container.store)
            await wait_until_routed(database.engine, len(stored))
        finally:
            stop_pushing.set()
            await asyncio.gather(pushing, return_exceptions=True)
            if (await kafka_sh("status", kafka_bus.bootstrap))[0] != 0:
                await kafka_sh("start", kafka_bus.bootstrap)  # leave the broker up for others
        ready = await hub.http.get("/readyz")
        assert ready.status_code == 200, ready.text  # the relay and router waited it out
        policy = hub.container.policy

    assert len(stored) == accepted
    recorded = await recorded_decisions(database.engine)
    assert set(recorded.values()) == {1}, "a decision recorded twice"
    assert recorded == expected_decisions(stored, policy)
    in_process = await in_process_decisions(
        create_event_store(database.engine, audit=SqlAuditLog(database.engine)), stored, policy
    )
    assert recorded == in_process, "not what the in-process router decides"
    await check_profiles(
        database.engine, create_event_store(database.engine, audit=SqlAuditLog(database.engine))
    )
    await check_feeds(database.engine)
