"""A client disabled while it holds a valid token is refused on its next request, on both
backends, through the API, although the hub keeps client state in memory for a moment
(`hub.services.client_cache`): at once when it is disabled through this hub; when another process
disables it (the `hub clients` CLI), its next push at once (the append checks it in its own
transaction, `hub.infra.store_publisher`) and its other requests once the cache's lifetime is
over."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
import pytest_asyncio

from hub.auth.secrets import hash_secret
from hub.infra.audit import SqlAuditLog
from hub.infra.clients import SqlClientRepository
from hub.services.clients import register_client
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub

#: Long enough that nothing in a test outlives it, unless the test waits for it.
CACHE_SECONDS = 60.0


def admission() -> dict[str, Any]:
    notification = example("custody.admission")
    notification["id"] = str(uuid.uuid4())
    return notification


async def publisher(hub: RunningHub) -> tuple[str, str]:
    """A client of the SPS that may push and read back; its id and a token."""
    client, secret = await register_client(
        hub.container.clients,
        name="PR2",
        agency="sps",
        scopes=["events:publish", "events:read"],
        hash_secret=hash_secret,
    )
    answer = await hub.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, secret),
    )
    assert answer.status_code == 200, answer.text
    return client.client_id, answer.json()["access_token"]


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"client_cache_seconds": CACHE_SECONDS})
    async with running_hub(settings) as running:
        yield running


async def push(hub: RunningHub, token: str) -> int:
    answer = await hub.http.post("/v1/events", json=admission(), headers=bearer(token))
    return answer.status_code


async def read_back(hub: RunningHub, token: str) -> int:
    answer = await hub.http.get("/v1/events/none", headers=bearer(token))
    return answer.status_code


@pytest.mark.asyncio
async def test_a_client_disabled_through_the_hub_is_refused_at_once(hub: RunningHub) -> None:
    client_id, token = await publisher(hub)
    assert await push(hub, token) == 201
    assert await read_back(hub, token) == 404  # authenticated, and its state now cached

    await hub.container.clients.disable(client_id)

    assert await push(hub, token) == 401
    assert await read_back(hub, token) == 401


@pytest.mark.asyncio
async def test_a_client_disabled_by_another_process_cannot_push_again(
    hub: RunningHub, database: Database
) -> None:
    client_id, token = await publisher(hub)
    assert await push(hub, token) == 201
    before = await hub.container.store.count()

    # As `hub clients disable` does, from a process of its own: this hub's cache never hears.
    await SqlClientRepository(database.engine, SqlAuditLog(database.engine)).disable(client_id)

    answer = await hub.http.post("/v1/events", json=admission(), headers=bearer(token))
    assert answer.status_code == 401, answer.text
    assert "disabled" in answer.json()["detail"]
    assert await hub.container.store.count() == before


@pytest.mark.asyncio
async def test_a_scope_withdrawn_by_another_process_stops_pushes_at_once(
    hub: RunningHub, database: Database
) -> None:
    client_id, token = await publisher(hub)
    assert await push(hub, token) == 201

    await SqlClientRepository(database.engine, SqlAuditLog(database.engine)).change(
        client_id, lambda c: replace(c, scopes=frozenset({"events:read"}))
    )

    assert await push(hub, token) == 403


@pytest.mark.asyncio
async def test_other_requests_of_a_client_disabled_elsewhere_end_with_the_cache_lifetime(
    database: Database,
) -> None:
    settings = database.settings.model_copy(update={"client_cache_seconds": 0.2})
    async with running_hub(settings) as hub:
        client_id, token = await publisher(hub)
        assert await read_back(hub, token) == 404
        await SqlClientRepository(database.engine, SqlAuditLog(database.engine)).disable(client_id)
        await asyncio.sleep(0.3)
        assert await read_back(hub, token) == 401
