"""`hub db`: the database schema, changed only through the Alembic migrations."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from hub.cli.common import Commands

if TYPE_CHECKING:
    from hub.settings import Settings


def register(commands: Commands) -> None:
    database = commands.add_parser("db", help="database schema").add_subparsers(title="db")
    upgrade = database.add_parser("upgrade", help="apply the Alembic migrations")
    upgrade.add_argument("--revision", default="head")
    # A connection failure names HUB_DATABASE_MIGRATION_URL, which this runs on.
    upgrade.set_defaults(run=_db_upgrade, migration_database=True)


async def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    # As the owner role (HUB_DATABASE_MIGRATION_URL, default HUB_DATABASE_URL); the hub itself
    # runs as HUB_DATABASE_URL's role, which is granted only what it needs.
    from hub import bootstrap

    migrated = await bootstrap.upgrade_database(settings, args.revision)
    print(f"database at revision {migrated.revision}")
    if migrated.runtime_role is not None:
        print(
            f"runtime role {migrated.runtime_role}: granted the hub's privileges "
            "(hub/infra/grants.py)"
        )
    elif not settings.is_embedded:
        print(
            "no separate runtime role: the hub runs as the owner of its tables "
            "(set HUB_DATABASE_MIGRATION_URL to the owner role; docs/security.md)"
        )
    return 0
