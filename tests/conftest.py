"""Shared fixtures: a freshly migrated database on each backend.

PostgreSQL is real: `HUB_TEST_POSTGRES_URL` (default: the role and database that
`deploy/local/postgres.sh start` creates). Each test gets its own schema, dropped afterwards.
If PostgreSQL cannot be reached the PostgreSQL tests fail loudly; they are never skipped.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub.infra.db import create_engine, upgrade
from hub.settings import Settings

POSTGRES_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql+asyncpg://hub:hub@127.0.0.1:5432/hub_test"
)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass
class Database:
    """A migrated, empty database of one backend, with the settings that reach it."""

    backend: str
    settings: Settings
    engine: AsyncEngine


async def _create_schema(name: str) -> None:
    admin = create_async_engine(POSTGRES_URL)
    try:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    except OSError as error:  # pragma: no cover - the message is the point
        raise RuntimeError(
            f"PostgreSQL is not reachable at {POSTGRES_URL}: start it with "
            "`deploy/local/postgres.sh start` (tests never skip PostgreSQL)"
        ) from error
    finally:
        await admin.dispose()


async def _drop_schema(name: str) -> None:
    admin = create_async_engine(POSTGRES_URL)
    try:
        async with admin.begin() as connection:
            await connection.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    finally:
        await admin.dispose()


def make_settings(backend: str, tmp_path: Path, schema: str | None = None) -> Settings:
    if backend == "sqlite":
        return Settings(environment="test", data_dir=tmp_path / "data")
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=SecretStr(POSTGRES_URL),
        database_schema=schema,
    )


@pytest_asyncio.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty, migrated database: SQLite in a temporary folder, or a fresh PostgreSQL schema."""
    backend: str = request.param
    schema = None
    if backend == "postgres":
        schema = f"test_{uuid.uuid4().hex[:12]}"
        await _create_schema(schema)
    settings = make_settings(backend, tmp_path, schema)
    engine = create_engine(settings)
    try:
        await upgrade(engine, settings)
        yield Database(backend, settings, engine)
    finally:
        await engine.dispose()
        if schema is not None:
            await _drop_schema(schema)
