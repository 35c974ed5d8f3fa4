"""The delivery worker is woken when webhook jobs are queued, not left to its next poll: in one
process by the routing store (both backends), across processes by PostgreSQL's `NOTIFY` (a
worker in a `hub serve --role delivery` process, the disclosure routed in this one), and still
after its listening connection is cut (a database restart, as the worker sees it).

Every worker here polls once a minute and each webhook is awaited for at most 30 s: a webhook
that arrives was delivered because the worker was woken (the mechanism, not a timing)."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub import bootstrap
from hub.infra.delivery_wakeup import LISTENER_NAME
from hub.settings import Settings
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, running_hub
from tests.integration.test_webhooks import SOCIAL_WORK, push_release, subscribe
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio

#: Longer than any wait below: a job found by polling would come too late.
POLL_SECONDS = 60.0
WITHIN = 30.0


def settings_for(database: Database, **overrides: Any) -> Settings:
    update = {
        "webhook_allow_private_addresses": True,
        "router_poll_interval": 0.05,
        "delivery_poll_interval": POLL_SECONDS,
        "overdue_check_interval": 3600.0,
        **overrides,
    }
    return database.settings.model_copy(update=update)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


async def delivered(receiver: Receiver, count: int) -> None:
    await receiver.wait_for(lambda: len(receiver.at("/sw")) >= count, within=WITHIN)


async def test_the_router_wakes_the_worker_in_its_process(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(settings_for(database)) as hub:
        await subscribe(hub, SOCIAL_WORK, receiver.url("/sw"))
        for count in (1, 2, 3):
            await push_release(hub)
            await delivered(receiver, count)


def delivery_process_env(database: Database) -> dict[str, str]:
    settings = database.settings
    assert settings.database_url is not None
    assert settings.database_schema is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update(
        {
            "HUB_ENVIRONMENT": "test",
            "HUB_DATA_DIR": str(settings.data_dir),
            "HUB_DATABASE_URL": settings.database_url.get_secret_value(),
            "HUB_DATABASE_SCHEMA": settings.database_schema,
            "HUB_WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "true",
            "HUB_DELIVERY_POLL_INTERVAL": str(POLL_SECONDS),
            "HUB_OVERDUE_CHECK_INTERVAL": "3600",
        }
    )
    return env


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_a_worker_in_another_process_is_woken_by_notify(
    database: Database, receiver: Receiver
) -> None:
    # This process routes (its own delivery worker is off); the other one only delivers.
    async with running_hub(settings_for(database, delivery_enabled=False)) as hub:
        await subscribe(hub, SOCIAL_WORK, receiver.url("/sw"))
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "hub.cli",
            "serve",
            "--role",
            "delivery",
            env=delivery_process_env(database),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            # The first may be found when the worker starts (it claims what it missed); by
            # the time it is delivered the worker listens, so the next ones come by NOTIFY.
            for count in (1, 2, 3):
                await push_release(hub)
                await delivered(receiver, count)
        finally:
            worker.terminate()
            await worker.wait()


async def cut_listener(hub: RunningHub, schema: str) -> int:
    """Terminate the listening connection's backend (what a database restart does to it)."""
    async with hub.container.engine.connect() as connection:
        found = await connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = :name"
            ),
            {"name": f"{LISTENER_NAME} {schema}"[:63]},
        )
        return len(found.all())


@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_the_listener_reconnects_after_its_connection_is_cut(
    database: Database, receiver: Receiver
) -> None:
    schema = database.settings.database_schema
    assert schema is not None
    routing = settings_for(database, delivery_enabled=False)
    async with running_hub(routing) as hub, bootstrap.running(settings_for(database)) as other:
        # A worker with an engine (a process, as far as PostgreSQL can tell) of its own.
        stop = asyncio.Event()
        worker = asyncio.create_task(other.delivery_worker().run(stop))
        try:
            await subscribe(hub, SOCIAL_WORK, receiver.url("/sw"))
            await push_release(hub)
            await delivered(receiver, 1)
            assert await cut_listener(hub, schema) == 1
            for count in (2, 3):
                await push_release(hub)
                await delivered(receiver, count)
        finally:
            stop.set()
            await worker
