"""The schema's compatibility record (migration 0018): written as each migration is applied,
read by readiness and `hub db current|check` to judge the database against the code
(`hub.domain.schema_revisions`; the rule for migration authors: docs/migrations.md)."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.runtime.migration import MigrationContext, MigrationInfo
from alembic.script import Script, ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.schema_revisions import SchemaVerdict, judge
from hub.infra.tables import schema_compatibility
from hub.settings import Settings


class MigrationUndeclared(ValueError):
    """A migration file that does not say which code runs against the schema it leaves."""


def declared_compatible_from(script: Script) -> str:
    """The `compatible_from` a migration file declares (the oldest code revision that runs
    against its schema: its own revision when it breaks older code)."""
    declared = getattr(script.module, "compatible_from", None)
    if not isinstance(declared, str) or not declared:
        raise MigrationUndeclared(
            f"migration {script.revision} declares no `compatible_from` (docs/migrations.md)"
        )
    return declared


def record_compatibility(*, ctx: MigrationContext, step: MigrationInfo, **_: Any) -> None:
    """Alembic's `on_version_apply` hook: record the applied revision's `compatible_from`, or
    forget an undone revision's. Before migration 0018 there is no table, and nothing to do."""
    connection = ctx.connection
    if connection is None or step.is_stamp:
        return
    if not sa.inspect(connection).has_table(schema_compatibility.name):
        return
    revision = step.up_revision_id
    if revision is None:
        return
    connection.execute(
        schema_compatibility.delete().where(schema_compatibility.c.revision == revision)
    )
    if step.is_upgrade:
        script = step.up_revision
        if not isinstance(script, Script):  # pragma: no cover - alembic's own map holds Scripts
            raise MigrationUndeclared(f"migration {revision} has no script")
        connection.execute(
            schema_compatibility.insert().values(
                revision=revision,
                compatible_from=declared_compatible_from(script),
                applied_at=datetime.now(UTC),
            )
        )


def code_lineage(settings: Settings) -> tuple[str, ...]:
    """The code's migrations, oldest first (its head last)."""
    return _lineage(str(settings.migrations_dir))


@functools.cache
def _lineage(migrations_dir: str) -> tuple[str, ...]:
    # Read once a process: the migration files are the code's, and do not change under it
    # (readiness asks on every probe).
    config = Config()
    config.set_main_option("script_location", migrations_dir)
    script = ScriptDirectory.from_config(config)
    return tuple(s.revision for s in reversed(list(script.walk_revisions())))


async def schema_verdict(engine: AsyncEngine, settings: Settings) -> SchemaVerdict:
    """The database's revision (and what code it declares it runs with) against the code's."""

    def _read(connection: Connection) -> tuple[str | None, str | None]:
        revision = MigrationContext.configure(connection).get_current_revision()
        if revision is None or not sa.inspect(connection).has_table(schema_compatibility.name):
            return revision, None
        declared = connection.execute(
            sa.select(schema_compatibility.c.compatible_from).where(
                schema_compatibility.c.revision == revision
            )
        ).scalar()
        return revision, declared

    async with engine.connect() as connection:
        database, compatible_from = await connection.run_sync(_read)
    return judge(
        database=database, compatible_from=compatible_from, code_lineage=code_lineage(settings)
    )
