"""`/readyz` of an API scaled out on Kafka (both backends): the router-lag detail reads the
checkpoint only the embedded router keeps, which scaled-out routers (a consumer group, each
recording the positions it routed) never move, so it would report every event ever stored as
waiting. It is left out, as the `pph_router_lag_*` gauges are (hub.api.role_metrics); the
relay's lag and the consumer group's are the figures that count there."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import Database
from tests.integration.api_helpers import bearer, example, running_hub
from tests.integration.kafka.conftest import KafkaUnderTest


@pytest.mark.asyncio
async def test_readiness_leaves_out_the_embedded_routers_lag_when_scaled_out(
    database: Database, kafka_bus: KafkaUnderTest
) -> None:
    settings = database.settings.model_copy(
        update={
            "kafka_bootstrap": kafka_bus.bootstrap,
            "kafka_events_topic": kafka_bus.topic,
            "kafka_events_partitions": kafka_bus.partitions,
            # The routers run in their own processes (`hub serve --role router`).
            "router_enabled": False,
            "delivery_enabled": False,
        }
    )
    async with running_hub(settings) as hub:
        token = await hub.token("sps")
        for _ in range(2):
            notification = example("custody.admission")
            notification["id"] = str(uuid.uuid4())
            answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
            assert answer.status_code in (200, 201), answer.text
        ready = await hub.http.get("/readyz")
        scraped = (await hub.http.get("/metrics")).text
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["checks"]["database"] == "ok"
    assert "relay" in body["workers"]
    assert body["router_lag"] is None
    assert "pph_router_lag_events" not in scraped
