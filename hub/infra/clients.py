"""Registered agency clients in the `clients` table, on PostgreSQL or SQLite."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.domain.audit.entries import AuditEntry
from hub.errors import Conflict, NotFound
from hub.infra.audit import SqlAuditLog
from hub.infra.db import once_more_if_lost
from hub.infra.dberrors import translated
from hub.infra.tables import client_assertion_jtis, clients
from hub.services.clients import ChangeRecord, RegisteredClient


class SqlClientRepository:
    """`hub.services.clients.ClientRepository` on the hub's database. The audit entries of a
    change go into `audit`'s log in the change's transaction."""

    def __init__(self, engine: AsyncEngine, audit: SqlAuditLog) -> None:
        self._engine = engine
        self._audit = audit
        # SQLite: take the write lock when the transaction begins (see `hub.infra.db`).
        self._writer = engine.execution_options(sqlite_begin="IMMEDIATE")

    async def add(self, client: RegisteredClient, *, audit: Sequence[AuditEntry] = ()) -> None:
        async with _translated():
            try:
                async with self._writer.begin() as connection:
                    await connection.execute(clients.insert().values(**_to_row(client)))
                    await self._audit.append(connection, audit)
            except sa.exc.IntegrityError as error:
                raise Conflict(f"client {client.client_id} already exists") from error

    async def get(self, client_id: str) -> RegisteredClient | None:
        async def read() -> RegisteredClient | None:
            async with _translated(), self._engine.connect() as connection:
                return await _select_one(connection, client_id)

        return await once_more_if_lost(read, engine=self._engine)

    async def list_all(self) -> list[RegisteredClient]:
        query = sa.select(clients).order_by(clients.c.created_at, clients.c.client_id)
        async with _translated(), self._engine.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_from_row(row) for row in rows]

    async def disable(self, client_id: str, *, at: datetime | None = None) -> RegisteredClient:
        when = _utc(at) if at is not None else datetime.now(UTC)
        async with _translated(), self._writer.begin() as connection:
            await connection.execute(
                clients.update()
                .where(clients.c.client_id == client_id, clients.c.disabled_at.is_(None))
                .values(disabled_at=when)
            )
            client = await _select_one(connection, client_id)
        if client is None:
            raise NotFound(f"there is no client {client_id}")
        return client

    async def change(
        self,
        client_id: str,
        change: Callable[[RegisteredClient], RegisteredClient],
        *,
        audit: ChangeRecord | None = None,
    ) -> RegisteredClient:
        query = sa.select(clients).where(clients.c.client_id == client_id).with_for_update()
        async with _translated(), self._writer.begin() as connection:
            row = (await connection.execute(query)).mappings().one_or_none()
            if row is None:
                raise NotFound(f"there is no client {client_id}")
            before = _from_row(row)
            after = change(before)
            if after == before:
                return before
            if after.client_id != before.client_id:
                raise ValueError("a change may not give a client another id")
            values = _to_row(after)
            del values["client_id"], values["created_at"]
            await connection.execute(
                clients.update().where(clients.c.client_id == client_id).values(**values)
            )
            if audit is not None:
                await self._audit.append(connection, audit(before, after))
        return after

    async def use_assertion_id(self, client_id: str, jti: str, expires_at: datetime) -> bool:
        used = client_assertion_jtis
        async with _translated(), self._writer.begin() as connection:
            await connection.execute(used.delete().where(used.c.expires_at < datetime.now(UTC)))
        async with _translated():
            try:
                async with self._writer.begin() as connection:
                    await connection.execute(
                        used.insert().values(
                            client_id=client_id, jti=jti, expires_at=_utc(expires_at)
                        )
                    )
            except sa.exc.IntegrityError:
                return False  # that assertion id was used before: a replay
        return True


def _translated() -> AbstractAsyncContextManager[None]:
    """Driver errors leave as `StoreUnavailable` or `StoreError` (`hub.infra.dberrors`)."""
    return translated("the client register")


async def _select_one(connection: AsyncConnection, client_id: str) -> RegisteredClient | None:
    query = sa.select(clients).where(clients.c.client_id == client_id)
    row = (await connection.execute(query)).mappings().one_or_none()
    return None if row is None else _from_row(row)


def _to_row(client: RegisteredClient) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "agency": client.agency,
        "scopes": " ".join(sorted(client.scopes)),
        "secret_hash": client.secret_hash,
        "created_at": _utc(client.created_at),
        "disabled_at": None if client.disabled_at is None else _utc(client.disabled_at),
        "jwks": client.jwks,
    }


def _from_row(row: Any) -> RegisteredClient:
    return RegisteredClient(
        client_id=row["client_id"],
        name=row["name"],
        agency=row["agency"],
        scopes=frozenset(row["scopes"].split()),
        secret_hash=row["secret_hash"],
        created_at=_utc(row["created_at"]),
        disabled_at=None if row["disabled_at"] is None else _utc(row["disabled_at"]),
        jwks=row["jwks"],
    )


def _utc(value: datetime) -> datetime:
    """In UTC. SQLite keeps no offset (it stores and returns naive datetimes), so everything is
    stored in UTC and a naive value read back is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
