"""The router's lag through the running API, on both backends: with the router stopped, each
push puts it one event further behind, in `/readyz` detail and in `/metrics`; once it has
routed, it is level with the store again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub

PUSHES = 3


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_enabled": False})
    async with running_hub(settings) as running:
        yield running


def metric(text: str, name: str) -> float:
    [line] = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(line.split()[1])


@pytest.mark.asyncio
async def test_router_lag_counts_the_events_pushed_while_it_is_stopped(hub: RunningHub) -> None:
    ready = (await hub.http.get("/readyz")).json()
    assert ready["router_lag"] == {"checkpoint": 0, "head": 0, "events": 0, "seconds": 0.0}

    token = await hub.token("sps")
    for _ in range(PUSHES):
        notification = example("custody.admission")
        notification["id"] = str(uuid.uuid4())
        answer = await hub.http.post("/v1/events", json=notification, headers=bearer(token))
        assert answer.status_code in (200, 201), answer.text

    answer = await hub.http.get("/readyz")
    assert answer.status_code == 200, answer.text  # behind is not unready
    lag = answer.json()["router_lag"]
    assert (lag["checkpoint"], lag["head"], lag["events"]) == (0, PUSHES, PUSHES)
    assert lag["seconds"] >= 0.0
    # The seconds are counted from when the first unrouted event was stored.
    waiting = (await hub.container.router_lag()).oldest_waiting_since
    assert waiting is not None
    assert waiting.utcoffset() is not None
    scraped = (await hub.http.get("/metrics")).text
    assert metric(scraped, "pph_router_lag_events") == PUSHES
    assert metric(scraped, "pph_router_lag_seconds") >= 0.0

    assert await hub.container.router().run_until_idle() == PUSHES

    lag = (await hub.http.get("/readyz")).json()["router_lag"]
    assert lag == {"checkpoint": PUSHES, "head": PUSHES, "events": 0, "seconds": 0.0}
    scraped = (await hub.http.get("/metrics")).text
    assert metric(scraped, "pph_router_lag_events") == 0
    assert metric(scraped, "pph_router_lag_seconds") == 0
