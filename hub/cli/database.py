"""`hub db`: the database schema, changed only through the Alembic migrations; whether it fits
the code (`current`, `check`); erasures re-applied after a restore (`reapply-erasures`);
`/metrics`' running totals rebuilt after a rolling upgrade (`recount-metrics`)."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli import exits
from hub.cli.common import Commands
from hub.cli.output import add_json_flag, emit_fields, emit_json
from hub.errors import InvalidInput

if TYPE_CHECKING:
    from hub.settings import Settings


def register(commands: Commands) -> None:
    database = commands.add_parser("db", help="database schema").add_subparsers(title="db")
    upgrade = database.add_parser("upgrade", help="apply the Alembic migrations")
    upgrade.add_argument("--revision", default="head")
    # A connection failure names HUB_DATABASE_MIGRATION_URL, which this runs on.
    upgrade.set_defaults(run=_db_upgrade, migration_database=True, database_only=True)

    current = database.add_parser(
        "current",
        help="print the database's schema revision, the code's, and whether this code runs on "
        "it (docs/migrations.md)",
    )
    add_json_flag(current, "the revisions")
    current.set_defaults(run=_db_current, database_only=True)

    check = database.add_parser(
        "check",
        help="exit 0 if this code runs on the database's schema (at the code's head, or a later "
        f"revision that declares it runs with it); {CHECK_BEHIND} if it is behind (run `hub db "
        f"upgrade`); {CHECK_INCOMPATIBLE} if it is at a later revision this code does not run "
        "on (deploy newer code); for init containers and deploy scripts",
    )
    add_json_flag(check, "the verdict")
    check.set_defaults(run=_db_check, database_only=True)

    reapply = database.add_parser(
        "reapply-erasures",
        help="after restoring a backup: destroy again every data key that an audit export "
        "(`hub audit export`, kept outside the database) records as erased and the restored "
        "database still holds, with an erasure entry each; idempotent "
        "(docs/backup-restore.md)",
    )
    reapply.add_argument(
        "--from",
        dest="ledger",
        type=Path,
        required=True,
        help="an audit export written after the erasures (it must verify against this hub's "
        "audit keys)",
    )
    reapply.add_argument("--by", default=None, help="who re-applies them (default: the OS user)")
    add_json_flag(reapply, "what was destroyed")
    reapply.set_defaults(run=_db_reapply_erasures)

    recount = database.add_parser(
        "recount-metrics",
        help="rebuild /metrics' running totals and the disclosures awaiting acknowledgement "
        "from the rows; run it once after a rolling upgrade to 0021, when no pod older than "
        "0021 is left (they change what they do not count); safe while the hub runs "
        "(docs/monitoring.md)",
    )
    add_json_flag(recount, "how many disclosures were read")
    recount.set_defaults(run=_db_recount_metrics, database_only=True)


#: `hub db check`: the schema is behind the code (or absent): `hub db upgrade` is needed.
CHECK_BEHIND = exits.FAILED
#: `hub db check`: the schema is at a later revision that does not run with this code.
CHECK_INCOMPATIBLE = exits.REFUSED


async def _db_current(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    verdict = await bootstrap.database_schema(settings)
    if args.json:
        emit_json(verdict.as_json())
    else:
        emit_fields(
            {
                "database revision": verdict.database or "none (no schema)",
                "code revision": verdict.code,
                "compatible from": verdict.compatible_from,
                "state": verdict.state,
                "this code runs on it": verdict.runnable,
                "reason": verdict.reason,
            }
        )
    return exits.OK


async def _db_check(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    verdict = await bootstrap.database_schema(settings)
    if args.json:
        emit_json(verdict.as_json())
    else:
        print(f"{verdict.state}: {verdict.reason}")
    if verdict.runnable:
        return exits.OK
    return CHECK_BEHIND if verdict.state == "behind" else CHECK_INCOMPATIBLE


async def _db_reapply_erasures(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    if not args.ledger.is_file():  # before starting anything
        raise InvalidInput(
            f"{args.ledger}: no such file (give an export written by `hub audit export`)"
        )
    async with bootstrap.running(settings) as container:
        report = await container.erasure_reapplier().reapply(
            args.ledger, actor=args.by or getpass.getuser(), at=datetime.now(UTC)
        )
    if args.json:
        emit_json(report.as_json())
        return exits.OK
    for key in report.destroyed:
        print(
            f"{key.person_id}: destroyed {key.holder} key {key.key_id} again "
            f"(erased {key.erased_at.isoformat()})"
        )
    print(
        f"{len(report.destroyed)} key(s) destroyed again, each with an erasure entry; "
        f"{report.already_destroyed} already destroyed; {report.absent} not in this database"
    )
    return exits.OK


async def _db_recount_metrics(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    read = await bootstrap.recount_metrics(settings)
    if args.json:
        emit_json({"disclosures": read})
    else:
        print(f"running totals rebuilt from {read} disclosure(s)")
    return exits.OK


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
