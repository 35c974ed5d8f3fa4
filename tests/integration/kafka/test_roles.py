"""`hub serve --role`: which workers a process runs, embedded and scaled out."""

from __future__ import annotations

import pytest

from hub import bootstrap
from hub.errors import InvalidInput
from tests.conftest import Database

EMBEDDED = {
    "api": {"audit-sequencer", "audit-checkpointer"},
    "router": {"router"},
    "delivery": {"delivery", "overdue", "review-escalation"},
    "all": {
        "audit-sequencer",
        "audit-checkpointer",
        "router",
        "delivery",
        "overdue",
        "review-escalation",
    },
}


@pytest.mark.asyncio
@pytest.mark.parametrize("role", sorted(EMBEDDED))
async def test_each_role_runs_its_workers_embedded(
    database: Database, role: bootstrap.Role
) -> None:
    async with (
        bootstrap.running(database.settings) as container,
        bootstrap.workers(container, role) as tasks,
    ):
        assert set(tasks) == EMBEDDED[role]
        assert not any(loop.task is None or loop.task.done() for loop in tasks.values())


@pytest.mark.asyncio
async def test_a_relay_needs_kafka(database: Database) -> None:
    async with bootstrap.running(database.settings) as container:
        with pytest.raises(InvalidInput, match="HUB_KAFKA_BOOTSTRAP"):
            async with bootstrap.workers(container, "relay"):
                pass


@pytest.mark.asyncio
async def test_scaled_out_all_runs_the_relay_and_a_router_worker(
    database: Database, kafka_bootstrap: str, topic: str
) -> None:
    settings = database.settings.model_copy(
        update={
            "kafka_bootstrap": kafka_bootstrap,
            "kafka_events_topic": topic,
            "kafka_router_group": f"{topic}.routers",
        }
    )
    async with (
        bootstrap.running(settings) as container,
        bootstrap.workers(container, "all") as tasks,
    ):
        assert {"relay", "router"} <= set(tasks)
        assert tasks["router"].task is not None
        assert tasks["router"].task.get_name() == "hub-router"
        assert not any(loop.task is None or loop.task.done() for loop in tasks.values())
    async with (
        bootstrap.running(settings) as container,
        bootstrap.workers(container, "relay") as tasks,
    ):
        assert set(tasks) == {"relay"}
