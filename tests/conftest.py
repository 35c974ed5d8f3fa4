"""Shared fixtures: a freshly migrated database on each backend.

PostgreSQL is real, with the two roles a deployment has (docs/security.md, the insider model):
the OWNER `HUB_TEST_POSTGRES_OWNER_URL` creates each test's schema and runs the migrations, and
the hub runs as the RUNTIME role `HUB_TEST_POSTGRES_URL`, granted only what `hub.infra.grants`
lists (defaults: the roles and database that `deploy/local/postgres.sh start` creates). So every
PostgreSQL test exercises the restricted role. Each test gets its own schema, dropped afterwards.
If PostgreSQL cannot be reached the PostgreSQL tests fail loudly; they are never skipped.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
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


class _Templates:
    """Each backend's empty database migrated once per test process by the migrations
    themselves (`hub.infra.db.migrate`, as `hub db upgrade` runs them), then copied for every
    test: a file copy on SQLite, the schema replayed from `pg_dump` on PostgreSQL (objects,
    grants to the runtime role and the migrations' own rows, under the test's schema name).
    Eighteen migrations per test were most of a database test's setup. The migrations
    themselves are tested where they are the subject (test_schema_compatibility.py, …)."""

    def __init__(self) -> None:
        self._sqlite: Path | None = None
        self._postgres: tuple[str, str] | None = None  # (template schema name, its dump)

    async def sqlite(self, data_dir: Path) -> None:
        """A migrated SQLite database at `data_dir`'s hub.sqlite3."""
        if self._sqlite is None:
            folder = Path(tempfile.mkdtemp(prefix="hub-template-"))
            await migrate(make_settings("sqlite", folder))
            migrated = folder / "data" / "hub.sqlite3"
            assert not migrated.with_name("hub.sqlite3-wal").exists(), "WAL left after migrate"
            self._sqlite = migrated
        await asyncio.to_thread(_copy_into, self._sqlite, data_dir)

    async def postgres(self, schema: str) -> None:
        """The schema `schema`, as the migrations leave an empty one."""
        if self._postgres is None:
            template = f"template_{uuid.uuid4().hex[:12]}"
            await _create_schema(template)
            try:
                await migrate(make_settings("postgres", Path(tempfile.mkdtemp()), template))
                done = await asyncio.to_thread(
                    subprocess.run,
                    ["pg_dump", "--no-owner", "--inserts", "--schema", template, _libpq_url()],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=120,
                )
                dumped = done.stdout
            finally:
                await _drop_schema(template)
            # psql's meta-commands (`\restrict`) are not SQL.
            sql = "\n".join(line for line in dumped.splitlines() if not line.startswith("\\"))
            self._postgres = (template, sql)
        template, sql = self._postgres
        connection = await asyncpg.connect(_libpq_url())
        try:
            await connection.execute(sql.replace(template, schema))
        finally:
            await connection.close()


def _copy_into(database_file: Path, data_dir: Path) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(database_file, data_dir / database_file.name)


def _libpq_url() -> str:
    """The owner's URL as libpq and asyncpg take it."""
    return POSTGRES_OWNER_URL.replace("postgresql+asyncpg://", "postgresql://", 1)


_templates = _Templates()


@pytest_asyncio.fixture(params=BACKENDS)
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database migrated by the owner role: SQLite in a temporary folder, or a fresh
    PostgreSQL schema that the hub reaches as its restricted runtime role."""
    backend: str = request.param
    schema = None
    if backend == "postgres":
        schema = f"test_{uuid.uuid4().hex[:12]}"
        await _templates.postgres(schema)
    settings = make_settings(backend, tmp_path, schema)
    if schema is None:
        await _templates.sqlite(settings.data_dir)
    engine = create_engine(settings)
    owner_engine = create_engine(owner_settings(settings)) if schema is not None else None
    try:
        yield Database(backend, settings, engine, owner_engine)
    finally:
        await engine.dispose()
        if owner_engine is not None:
            await owner_engine.dispose()
        if schema is not None:
            await _drop_schema(schema)
