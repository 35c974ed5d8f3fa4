"""Database engines and schema migrations for both backends.

Nothing here connects at import time: `create_engine` is called by the composition root
(`hub.bootstrap`) inside the app's lifespan, or by the CLI.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from hub.errors import StoreError
from hub.infra import sqlite_open
from hub.infra.grants import DatabaseRolesUnsafe, apply_runtime_grants, runtime_role
from hub.observability import tracing
from hub.settings import Settings


def create_engine(settings: Settings, **overrides: Any) -> AsyncEngine:
    """An async engine for the configured backend, set up for the event store's needs: the
    hub's own (runtime) connection, `HUB_DATABASE_URL`."""
    return _engine(settings, settings.resolved_database_url, **overrides)


def create_migration_engine(settings: Settings) -> AsyncEngine:
    """An engine on the migration connection (`HUB_DATABASE_MIGRATION_URL`, the owner role):
    only `migrate` uses it, and only for as long as the migrations run."""
    return _engine(settings, settings.resolved_migration_url)


def _engine(settings: Settings, url: str, **overrides: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **overrides)
        sqlite_open.open_connections_with_thread_end(engine)
        _configure_sqlite(engine)
        tracing.instrument_engine(engine)
        return engine
    # READ COMMITTED for every transaction that names no other level (the event store's
    # appends rely on it: `hub.infra.store`), set once when the connection opens rather than on
    # each transaction by an execution option (SQLAlchemy then sets and resets the level on every
    # checkout: ~40 Python calls a push). It holds whatever the database's or role's default is.
    server_settings = {"default_transaction_isolation": "read committed"}
    if settings.database_schema:
        server_settings["search_path"] = settings.database_schema
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    ssl = sslmode(url, settings.database_sslmode)
    if ssl is not None:
        connect_args["ssl"] = ssl
    options: dict[str, Any] = {
        "pool_size": settings.database_pool_size,
        "max_overflow": settings.database_pool_size,
        "connect_args": connect_args,
    }
    options.update(overrides)
    engine = create_async_engine(url, **options)
    _check_on_checkout(engine, settings.database_ping_after_idle_seconds)
    tracing.instrument_engine(engine)
    return engine


#: Hosts that name this machine: a PostgreSQL there is reached without leaving it.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def sslmode(url: str, configured: str | None) -> str | None:
    """The TLS mode of a PostgreSQL connection (asyncpg's `ssl`): `HUB_DATABASE_SSLMODE` when
    set; None (the URL decides) when the URL names `ssl` or `sslmode` itself; else `disable`
    for a database on this machine (a loopback address, `localhost` or a Unix socket: TLS there
    protects nothing and costs CPU on every round trip) and `verify-full` for any other host
    (asyncpg's own default, `prefer`, would fall back to plaintext and check no certificate)."""
    if configured is not None:
        return configured
    parsed = make_url(url)
    if {"ssl", "sslmode"} & set(parsed.query):
        return None
    host = parsed.query.get("host") if parsed.host is None else parsed.host
    if isinstance(host, tuple):
        host = host[0] if host else None
    return "disable" if _is_local(host) else "verify-full"


def _is_local(host: str | None) -> bool:
    if host is None or host.startswith("/") or host.lower() in _LOOPBACK_NAMES:
        return True  # no host: the default Unix socket
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_on_checkout(engine: AsyncEngine, ping_after_idle: float) -> None:
    """Hand out no pooled connection the server has closed, without a round trip per checkout.

    Instead of SQLAlchemy's `pool_pre_ping` (three round trips on every checkout for asyncpg:
    BEGIN, `;`, ROLLBACK), a connection is checked for free when it is checked out: asyncpg
    knows when the server closed it (a terminated backend, a restart), since the event loop
    reads the socket's end while it sits in the pool. Only one idle for `ping_after_idle`
    seconds or more is pinged, since a connection dropped silently on the way (a firewall's idle
    timeout) gives no such sign. A connection that fails either check is replaced by the pool
    (`DisconnectionError`); one lost between checkout and use fails its statement, invalidates
    the pool's older connections, and the event store's append runs once more on a fresh one
    (`hub.infra.store`).
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["hub_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _on_checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_connection, "driver_connection", None)
        is_closed = getattr(driver, "is_closed", None)
        if callable(is_closed) and is_closed():
            raise sa.exc.DisconnectionError("the server closed this pooled connection")
        idle_since = record.info.get("hub_idle_since")
        if idle_since is None or time.monotonic() - idle_since < ping_after_idle:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise sa.exc.DisconnectionError(
                f"a pooled connection, idle a while, is lost: {error}"
            ) from error


_T = TypeVar("_T")


def is_lost_connection(error: BaseException | None) -> bool:
    """Did a pooled connection turn out dead on use (the driver's error invalidated it, and
    SQLAlchemy with it every pooled connection older than it)?"""
    return isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated


async def once_more_if_lost(operation: Callable[[], Awaitable[_T]], *, engine: AsyncEngine) -> _T:
    """Run `operation` (idempotent, translated through `hub.infra.dberrors`), and once more if
    its PostgreSQL connection turned out dead on use: the pool then hands out a fresh one.
    (SQLite has no server to close a pooled connection; its errors are not retried.)"""
    if engine.dialect.name != "postgresql":
        return await operation()
    try:
        return await operation()
    except StoreError as error:
        if not is_lost_connection(error.__cause__):
            raise
    return await operation()


def _configure_sqlite(engine: AsyncEngine) -> None:
    """SQLite: WAL (readers never block the writer), foreign keys on, a busy timeout, and
    transactions we begin ourselves so that writers can take the lock up front.

    Writers begin with `BEGIN IMMEDIATE` (execution option `sqlite_begin="IMMEDIATE"`): the
    database lock is taken before the first read, so two writers never deadlock on upgrading a
    read lock, and positions are allocated in commit order (SQLite has one writer at a time).
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let the "begin" hook below start transactions
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


def alembic_config(settings: Settings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(settings.migrations_dir))
    return config


#: PostgreSQL's SQLSTATE for a statement the role may not run (not the owner, no privilege).
_INSUFFICIENT_PRIVILEGE = "42501"


@dataclass(frozen=True)
class Migrated:
    """What `migrate` did: the revision reached, and the runtime role granted its privileges
    (None: SQLite, or one PostgreSQL role that both owns the tables and runs the hub)."""

    revision: str | None
    runtime_role: str | None


async def migrate(settings: Settings, revision: str = "head") -> Migrated:
    """Bring the schema up to `revision` as the owner role (the migration URL) and grant the
    runtime role its privileges (`hub.infra.grants`)."""
    engine = create_migration_engine(settings)
    try:
        await upgrade(engine, settings, revision)
        async with engine.connect() as connection:
            return Migrated(await current_revision(connection), runtime_role(settings))
    except sa.exc.DBAPIError as error:
        if getattr(error.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
            raise
        raise DatabaseRolesUnsafe(
            f"the migrations need the owner of the schema and its tables: {error.orig}; run "
            "`hub db upgrade` with HUB_DATABASE_MIGRATION_URL naming the owner role"
        ) from error
    finally:
        await engine.dispose()


async def runs_as_owner(engine: AsyncEngine) -> bool:
    """PostgreSQL: whether `engine`'s role has the owner's rights over the event store (it
    could then alter it, re-grant itself UPDATE or disable its triggers)."""
    if engine.dialect.name != "postgresql":
        return False
    async with engine.connect() as connection:
        owner = await connection.execute(
            sa.text(
                "SELECT pg_has_role(current_user, relowner, 'MEMBER') FROM pg_class "
                "WHERE oid = to_regclass('events')"
            )
        )
        return bool(owner.scalar())


async def upgrade(engine: AsyncEngine, settings: Settings, revision: str = "head") -> None:
    """Bring the schema up to `revision` through the Alembic migrations, on `engine` (which must
    connect as the owner of the schema), then, on PostgreSQL with a separate runtime role, make
    `GRANTS` its privileges, all in one transaction."""
    config = alembic_config(settings)
    role = runtime_role(settings)

    def _run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        with _alembic_speaking():
            command.upgrade(config, revision)
        if role is not None and connection.dialect.name == "postgresql":
            apply_runtime_grants(connection, role, settings.database_schema)

    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()


@contextmanager
def _alembic_speaking() -> Iterator[None]:
    """Alembic's INFO lines (each migration run) while migrating, and only then: elsewhere (the
    readiness probe reads the revision) they would repeat on every call."""
    logger = logging.getLogger("alembic")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.setLevel(level)


async def current_revision(connection: AsyncConnection) -> str | None:
    def _read(sync_connection: Connection) -> str | None:
        return MigrationContext.configure(sync_connection).get_current_revision()

    return await connection.run_sync(_read)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as connection:
        await connection.execute(sa.text("SELECT 1"))
