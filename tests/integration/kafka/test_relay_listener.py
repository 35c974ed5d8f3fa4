"""A `hub serve --role relay` process, scaled out on Kafka, serves its probes and metrics on
HUB_METRICS_PORT (both backends): its lag (positions behind the store's head) falls to 0 once it
has published what was stored before it started, and the router-lag gauges, which read a
checkpoint only the embedded router keeps, are left out."""

from __future__ import annotations

import asyncio
import sys

import httpx
import pytest

from hub import bootstrap
from tests.conftest import Database
from tests.integration.kafka.conftest import KafkaUnderTest
from tests.integration.kafka.routing_helpers import append_random
from tests.integration.test_worker_listener import eventually, free_port, role_env, sample


@pytest.mark.asyncio
async def test_a_relay_process_reports_its_lag_falling_to_zero(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    async with bootstrap.running(database.settings) as container:
        await append_random(container.store, batches=2, per_batch=5, people=3, seed=17)
    port = free_port()
    env = role_env(database, port)
    env.update(
        {
            "HUB_KAFKA_BOOTSTRAP": kafka_bus.bootstrap,
            "HUB_KAFKA_EVENTS_TOPIC": kafka_bus.topic,
            "HUB_KAFKA_EVENTS_PARTITIONS": str(kafka_bus.partitions),
        }
    )
    relay = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub.cli", "serve", "--role", "relay",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:

            async def published() -> str | None:
                text = (await http.get("/metrics")).text
                return text if sample(text, 'pph_worker_lag{worker="relay"}') == 0 else None

            scraped: str = await eventually(published, "the relay caught up", relay)
            assert sample(scraped, 'pph_worker_state{state="running",worker="relay"}') == 1
            assert "pph_router_lag_events" not in scraped
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["relay"] == "ok"
    finally:
        relay.terminate()
        _out, err = await relay.communicate()
    assert relay.returncode == 0, err.decode()
