"""Shared fixtures: a freshly migrated database on each backend.

PostgreSQL is real, with the two roles a deployment has (docs/security.md, the insider model):
the OWNER `HUB_TEST_POSTGRES_OWNER_URL` creates each test's schema and runs the migrations, and
the hub runs as the RUNTIME role `HUB_TEST_POSTGRES_URL`, granted only what `hub.infra.grants`
lists (defaults: the roles and database that `deploy/local/postgres.sh start` creates). So every
PostgreSQL test exercises the restricted role. Each test gets its own schema, dropped afterwards.
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
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hub.infra.db import create_engine, migrate
from hub.settings import Settings

#: The hub's runtime role: what the hub under test connects as.
POSTGRES_URL = os.environ.get(
    "HUB_TEST_POSTGRES_URL", "postgresql+asyncpg://hub:hub@127.0.0.1:5432/hub_test"
)
#: The owner role: creates and drops the test schemas, runs the migrations, grants the runtime
#: role its privileges. Never what the hub under test runs as.
POSTGRES_OWNER_URL = os.environ.get(
    "HUB_TEST_POSTGRES_OWNER_URL",
    "postgresql+asyncpg://hub_owner:hub_owner@127.0.0.1:5432/hub_test",
)
POSTGRES_RUNTIME_ROLE = str(make_url(POSTGRES_URL).username)

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@dataclass
class Database:
    """A migrated, empty database of one backend, with the settings that reach it."""

    backend: str
    settings: Settings
    #: The hub's own connection: on PostgreSQL, the restricted runtime role.
    engine: AsyncEngine
    #: PostgreSQL: a connection as the owner of the tables, for tests that play an insider who
    #: holds the owner's rights. None on SQLite, which has no roles (`owner` is then `engine`).
    owner_engine: AsyncEngine | None = None

    @property
    def owner(self) -> AsyncEngine:
        """The owner's connection (SQLite: the one connection there is)."""
        return self.owner_engine if self.owner_engine is not None else self.engine


async def _as_owner(statement: str) -> None:
    admin = create_async_engine(POSTGRES_OWNER_URL)
    try:
        async with admin.begin() as connection:
            await connection.execute(sa.text(statement))
    except OSError as error:  # pragma: no cover - the message is the point
        raise RuntimeError(
            f"PostgreSQL is not reachable at {POSTGRES_OWNER_URL}: start it with "
            "`deploy/local/postgres.sh start` (tests never skip PostgreSQL)"
        ) from error
    finally:
        await admin.dispose()


async def _create_schema(name: str) -> None:
    await _as_owner(f'CREATE SCHEMA "{name}"')


async def _drop_schema(name: str) -> None:
    await _as_owner(f'DROP SCHEMA "{name}" CASCADE')


def make_settings(backend: str, tmp_path: Path, schema: str | None = None) -> Settings:
    if backend == "sqlite":
        return Settings(environment="test", data_dir=tmp_path / "data")
    return Settings(
        environment="test",
        data_dir=tmp_path / "data",
        database_url=SecretStr(POSTGRES_URL),
        database_migration_url=SecretStr(POSTGRES_OWNER_URL),
        database_runtime_role=POSTGRES_RUNTIME_ROLE,
        database_schema=schema,
    )


def owner_settings(settings: Settings) -> Settings:
    """`settings` with the hub connecting as the owner (migration) role: for an insider's tools."""
    if settings.database_migration_url is None:
        return settings
    return settings.model_copy(update={"database_url": settings.database_migration_url})


@pytest_asyncio.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database migrated by the owner role: SQLite in a temporary folder, or a fresh
    PostgreSQL schema that the hub reaches as its restricted runtime role."""
    backend: str = request.param
    schema = None
    if backend == "postgres":
        schema = f"test_{uuid.uuid4().hex[:12]}"
        await _create_schema(schema)
    settings = make_settings(backend, tmp_path, schema)
    engine = create_engine(settings)
    owner_engine = create_engine(owner_settings(settings)) if schema is not None else None
    try:
        await migrate(settings)
        yield Database(backend, settings, engine, owner_engine)
    finally:
        await engine.dispose()
        if owner_engine is not None:
            await owner_engine.dispose()
        if schema is not None:
            await _drop_schema(schema)
