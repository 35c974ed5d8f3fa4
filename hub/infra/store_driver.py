"""The database driver's own connection under a SQLAlchemy one, for the few statements of the
append path that run on it directly (`hub.infra.store_asyncpg`, `hub.infra.store_sqlite`): in
whatever transaction the SQLAlchemy connection has begun on it, which SQLAlchemy still commits or
rolls back."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["driver_connection"]


async def driver_connection(connection: AsyncConnection) -> Any:
    """asyncpg's or aiosqlite's connection under `connection`. On PostgreSQL, SQLAlchemy begins
    its transaction on the driver with the connection's first statement: run one through
    SQLAlchemy first."""
    return (await connection.get_raw_connection()).driver_connection
