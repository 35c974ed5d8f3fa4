"""`hub db`: the database schema, changed only through the Alembic migrations."""

from __future__ import annotations

import argparse

from hub import bootstrap
from hub.cli.common import Commands
from hub.settings import Settings


def register(commands: Commands) -> None:
    database = commands.add_parser("db", help="database schema").add_subparsers(title="db")
    upgrade = database.add_parser("upgrade", help="apply the Alembic migrations")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(run=_db_upgrade)


async def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    revision = await bootstrap.upgrade_database(settings, args.revision)
    print(f"database at revision {revision}")
    return 0
