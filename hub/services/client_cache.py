"""Registered clients kept in memory for a moment: every authenticated request reads its client,
and a database round trip (a checkout and a transaction of its own) for each would cost more than
the rest of a push's authentication.

A client changed or disabled through this process is forgotten at once; one changed by another
process (the `hub clients` CLI) is read afresh within `ttl` seconds. Pushes do not wait that long:
the event store refuses a disabled client in the append's own transaction
(`hub.infra.store_publisher`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from hub.domain.audit.entries import AuditEntry
from hub.services.clients import ChangeRecord, ClientRepository, RegisteredClient

#: Beyond this many cached clients, the cache starts afresh (memory stays bounded).
MAX_CACHED_CLIENTS = 10_000


class CachedClientRepository:
    """`ClientRepository` over another, answering `get` from memory for up to `ttl` seconds."""

    def __init__(
        self,
        repository: ClientRepository,
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl < 0:
            raise ValueError("a cache lifetime cannot be negative")
        self._repository = repository
        self._ttl = ttl
        self._clock = clock
        self._cached: dict[str, tuple[float, RegisteredClient]] = {}
        #: Bumped by every change made through this cache: a read that began before a change
        #: may have seen the client as it was, and is not kept.
        self._changes = 0
        #: The read of each client under way, and the `_changes` it began at.
        self._reading: dict[str, tuple[int, asyncio.Future[RegisteredClient | None]]] = {}

    async def get(self, client_id: str) -> RegisteredClient | None:
        now = self._clock()
        cached = self._cached.get(client_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        if self._ttl == 0:
            return await self._repository.get(client_id)
        changes = self._changes
        reading = self._reading.get(client_id)
        if reading is not None and reading[0] == changes:
            # Requests that find the entry expired together share one read, rather than each
            # taking a connection of its own for the same row (all of a busy client's requests
            # did, once a second). Only a read begun since the last change is shared.
            return await asyncio.shield(reading[1])
        read = asyncio.ensure_future(self._read(client_id, now, changes))
        self._reading[client_id] = (changes, read)
        read.add_done_callback(lambda done: self._read_done(client_id, done))
        return await asyncio.shield(read)

    def _read_done(self, client_id: str, read: asyncio.Future[RegisteredClient | None]) -> None:
        if self._reading.get(client_id, (0, None))[1] is read:
            del self._reading[client_id]
        if not read.cancelled():
            read.exception()  # retrieved here too: every waiter may have gone away

    async def _read(self, client_id: str, now: float, changes: int) -> RegisteredClient | None:
        client = await self._repository.get(client_id)
        if client is None or changes != self._changes:
            self._cached.pop(client_id, None)
            return client
        if len(self._cached) >= MAX_CACHED_CLIENTS:
            self._cached.clear()
        self._cached[client_id] = (now + self._ttl, client)
        return client

    def forget(self, client_id: str) -> None:
        """Read `client_id` from the repository on its next `get`."""
        self._changes += 1
        self._cached.pop(client_id, None)

    async def add(self, client: RegisteredClient, *, audit: Sequence[AuditEntry] = ()) -> None:
        self.forget(client.client_id)
        await self._repository.add(client, audit=audit)

    async def list_all(self) -> list[RegisteredClient]:
        return await self._repository.list_all()

    async def disable(self, client_id: str, *, at: datetime | None = None) -> RegisteredClient:
        self.forget(client_id)
        try:
            return await self._repository.disable(client_id, at=at)
        finally:
            self.forget(client_id)

    async def use_assertion_id(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        return await self._repository.use_assertion_id(client_id, jti, expires_at)

    async def change(
        self,
        client_id: str,
        change: Callable[[RegisteredClient], RegisteredClient],
        *,
        audit: ChangeRecord | None = None,
    ) -> RegisteredClient:
        self.forget(client_id)
        try:
            return await self._repository.change(client_id, change, audit=audit)
        finally:
            self.forget(client_id)
