"""Registered clients kept in memory for a moment (`hub.services.client_cache`): read once per
lifetime, forgotten at once when changed through the cache, and never kept from a read that a
change overtook."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from hub.errors import NotFound
from hub.services.client_cache import CachedClientRepository
from hub.services.clients import RegisteredClient

CLIENT = RegisteredClient(
    client_id="cl_pr2",
    name="PR2",
    agency="sps",
    scopes=frozenset({"events:publish"}),
    secret_hash="scrypt$x",
    created_at=datetime(2026, 12, 6, tzinfo=UTC),
)


class Register:
    """An in-memory client register counting its reads; `gate` holds a read back when set."""

    def __init__(self) -> None:
        self.clients = {CLIENT.client_id: CLIENT}
        self.reads = 0
        self.gate: asyncio.Event | None = None

    async def add(self, client: RegisteredClient, *, audit: object = ()) -> None:
        self.clients[client.client_id] = client

    async def get(self, client_id: str) -> RegisteredClient | None:
        self.reads += 1
        found = self.clients.get(client_id)
        if self.gate is not None:
            await self.gate.wait()
        return found

    async def list_all(self) -> list[RegisteredClient]:
        return list(self.clients.values())

    async def disable(self, client_id: str, *, at: datetime | None = None) -> RegisteredClient:
        if client_id not in self.clients:
            raise NotFound(client_id)
        self.clients[client_id] = replace(
            self.clients[client_id], disabled_at=at or CLIENT.created_at
        )
        return self.clients[client_id]

    async def use_assertion_id(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        return True

    async def change(
        self,
        client_id: str,
        change: Callable[[RegisteredClient], RegisteredClient],
        *,
        audit: object = None,
    ) -> RegisteredClient:
        self.clients[client_id] = change(self.clients[client_id])
        return self.clients[client_id]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.asyncio
async def test_a_client_is_read_once_per_lifetime() -> None:
    register, clock = Register(), Clock()
    cache = CachedClientRepository(register, ttl=2.0, clock=clock)
    assert await cache.get(CLIENT.client_id) == CLIENT
    assert await cache.get(CLIENT.client_id) == CLIENT
    assert register.reads == 1
    clock.now += 2.0
    await cache.get(CLIENT.client_id)
    assert register.reads == 2


@pytest.mark.asyncio
async def test_a_client_disabled_or_changed_through_the_cache_is_read_afresh() -> None:
    register = Register()
    cache = CachedClientRepository(register, ttl=60.0, clock=Clock())
    await cache.get(CLIENT.client_id)
    await cache.disable(CLIENT.client_id)
    found = await cache.get(CLIENT.client_id)
    assert found is not None
    assert not found.is_enabled
    await cache.change(CLIENT.client_id, lambda c: replace(c, scopes=frozenset({"feed:read"})))
    found = await cache.get(CLIENT.client_id)
    assert found is not None
    assert found.scopes == {"feed:read"}


@pytest.mark.asyncio
async def test_a_read_overtaken_by_a_change_is_not_kept() -> None:
    register = Register()
    cache = CachedClientRepository(register, ttl=60.0, clock=Clock())
    register.gate = asyncio.Event()
    reading = asyncio.create_task(cache.get(CLIENT.client_id))
    await asyncio.sleep(0)  # the read has the client as it was, and waits
    register.gate.set()
    register.gate = None
    await cache.disable(CLIENT.client_id)
    assert (await reading) is not None
    found = await cache.get(CLIENT.client_id)
    assert found is not None
    assert not found.is_enabled


@pytest.mark.asyncio
async def test_no_lifetime_reads_every_time_and_unknown_clients_are_not_kept() -> None:
    register = Register()
    cache = CachedClientRepository(register, ttl=0, clock=Clock())
    await cache.get(CLIENT.client_id)
    await cache.get(CLIENT.client_id)
    assert register.reads == 2
    cached = CachedClientRepository(register, ttl=60, clock=Clock())
    assert await cached.get("cl_unknown") is None
    await register.add(replace(CLIENT, client_id="cl_unknown"))
    assert await cached.get("cl_unknown") is not None


@pytest.mark.asyncio
async def test_requests_finding_the_client_expired_together_share_one_read() -> None:
    register = Register()
    cache = CachedClientRepository(register, ttl=60.0, clock=Clock())
    register.gate = asyncio.Event()
    readers = [asyncio.create_task(cache.get(CLIENT.client_id)) for _ in range(8)]
    await asyncio.sleep(0.01)
    register.gate.set()
    assert await asyncio.gather(*readers) == [CLIENT] * 8
    assert register.reads == 1


@pytest.mark.asyncio
async def test_a_read_begun_before_a_change_is_not_shared_with_a_request_after_it() -> None:
    register = Register()
    cache = CachedClientRepository(register, ttl=60.0, clock=Clock())
    gate = register.gate = asyncio.Event()
    before = asyncio.create_task(cache.get(CLIENT.client_id))
    await asyncio.sleep(0.01)  # the read has the client as it was, and waits
    register.gate = None
    await cache.disable(CLIENT.client_id)
    after = await cache.get(CLIENT.client_id)
    assert after is not None
    assert not after.is_enabled
    gate.set()
    assert (await before) == CLIENT
    assert register.reads == 2


@pytest.mark.asyncio
async def test_a_shared_read_that_fails_fails_each_request_and_the_next_reads_again() -> None:
    register = Register()
    cache = CachedClientRepository(register, ttl=60.0, clock=Clock())
    failing = register.get

    async def unavailable(client_id: str) -> RegisteredClient | None:
        await failing(client_id)
        raise ConnectionError("the database is away")

    register.get = unavailable  # type: ignore[method-assign]
    results = await asyncio.gather(
        *(cache.get(CLIENT.client_id) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(r, ConnectionError) for r in results)
    assert register.reads == 1
    register.get = failing  # type: ignore[method-assign]
    assert await cache.get(CLIENT.client_id) == CLIENT
    assert register.reads == 2
