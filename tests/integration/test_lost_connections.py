"""Pooled PostgreSQL connections the server has closed (`pg_terminate_backend`: an operator, a
failover, an idle-session timeout) are not handed out again, although the hub no longer pings a
connection on every checkout (`hub.infra.db`): the next requests succeed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tests.conftest import Database
from tests.integration.api_helpers import bearer, example, running_hub


async def backend_pids(engine: AsyncEngine, connections: int) -> list[int]:
    """The server processes of `connections` pooled connections of `engine` (all checked out
    at once, so that each is another)."""
    async with AsyncExitStack() as stack:
        held: list[AsyncConnection] = [
            await stack.enter_async_context(engine.connect()) for _ in range(connections)
        ]
        return [
            int((await c.execute(sa.text("SELECT pg_backend_pid()"))).scalar_one()) for c in held
        ]


async def terminate(engine: AsyncEngine, pids: list[int]) -> None:
    """As the same role (which may signal its own backends), on another engine than the hub's."""
    async with engine.connect() as connection:
        for pid in pids:
            # Waits (up to 5 s) until the backend has exited.
            await connection.execute(
                sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}
            )


async def _admissions() -> AsyncIterator[dict[str, object]]:
    while True:
        notification = example("custody.admission")
        notification["id"] = str(uuid.uuid4())
        yield notification


@pytest.mark.asyncio
@pytest.mark.postgres
@pytest.mark.parametrize("database", ["postgres"], indirect=True)
async def test_requests_after_the_servers_connections_were_terminated_succeed(
    database: Database,
) -> None:
    async with running_hub(database.settings) as hub:
        token = await hub.token()
        admissions = _admissions()
        first = await anext(admissions)
        assert (
            await hub.http.post("/v1/events", json=first, headers=bearer(token))
        ).status_code == 201

        pids = await backend_pids(hub.container.engine, 3)
        await terminate(database.engine, pids)

        for _ in range(3):
            answer = await hub.http.post(
                "/v1/events", json=await anext(admissions), headers=bearer(token)
            )
            assert answer.status_code == 201, answer.text
        answer = await hub.http.get(
            f"/v1/events/{first['id']}", headers=bearer(token) | {"X-Purpose": "test"}
        )
        assert answer.status_code == 200, answer.text
        assert await hub.token()  # the token endpoint reads the client register

        # And again, with concurrent pushes, each needing a connection of its own.
        pids = await backend_pids(hub.container.engine, 3)
        await terminate(database.engine, pids)
        answers = await asyncio.gather(
            *(
                hub.http.post("/v1/events", json=n, headers=bearer(token))
                for n in [await anext(admissions) for _ in range(6)]
            )
        )
        assert [a.status_code for a in answers] == [201] * 6, [a.text for a in answers]
