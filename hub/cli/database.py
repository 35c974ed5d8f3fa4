"""`hub db`: the database schema, changed only through the Alembic migrations."""

from __future__ import annotations

import argparse

from hub.cli.common import Commands
from hub.infra import db
from hub.settings import Settings


def register(commands: Commands) -> None:
    database = commands.add_parser("db", help="database schema").add_subparsers(title="db")
    upgrade = database.add_parser("upgrade", help="apply the Alembic migrations")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(run=_db_upgrade)


async def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine = db.create_engine(settings)
    try:
        await db.upgrade(engine, settings, args.revision)
        async with engine.connect() as connection:
            print(f"database at revision {await db.current_revision(connection)}")
    finally:
        await engine.dispose()
    return 0
