"""Alembic environment: migrations run on the connection the hub hands over (`hub db upgrade`,
or the embedded default on start), or on one built from the HUB_ settings for the alembic CLI
(the migration URL, the owner role, then the runtime role's grants: `hub.infra.grants`)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from hub.infra.schema_compatibility import record_compatibility
from hub.infra.tables import metadata

config = context.config


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        # Each applied migration's `compatible_from`, kept where older code can read it.
        on_version_apply=record_compatibility,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_from_settings() -> None:
    from hub.infra.db import create_migration_engine
    from hub.infra.grants import apply_runtime_grants, runtime_role
    from hub.settings import Settings

    # As `hub db upgrade` does: as the owner (HUB_DATABASE_MIGRATION_URL), then the runtime
    # role's grants in the same transaction.
    settings = Settings()
    role = runtime_role(settings)

    def run_and_grant(connection: Connection) -> None:
        run_on(connection)
        if role is not None and connection.dialect.name == "postgresql":
            apply_runtime_grants(connection, role, settings.database_schema)

    engine = create_migration_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_and_grant)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: the schema differs by backend")

given = config.attributes.get("connection")
if given is not None:
    run_on(given)
else:
    asyncio.run(run_from_settings())
