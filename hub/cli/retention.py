"""`hub retention apply`: erase personal data past the policy bundle's retention periods."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import datetime
from typing import TYPE_CHECKING

from hub.cli.common import Commands
from hub.cli.progress import working
from hub.errors import InvalidInput

if TYPE_CHECKING:
    from hub.settings import Settings


def register(commands: Commands) -> None:
    retention = commands.add_parser(
        "retention", help="erase personal data at the end of its retention period"
    )
    retention_commands = retention.add_subparsers(title="retention")
    apply = retention_commands.add_parser(
        "apply",
        help="erase the data of every event past its type's retention period (bundle.yaml "
        "`retention:`), logging each erasure in the audit trail",
    )
    apply.add_argument("--dry-run", action="store_true", help="count, erase nothing")
    apply.add_argument(
        "--as-of", default=None, help="apply as of this time (ISO 8601 with zone; default now)"
    )
    apply.add_argument("--by", default=None, help="who runs it (default: the OS user)")
    apply.add_argument("--json", action="store_true", help="print the report as JSON")
    apply.set_defaults(run=_apply)


async def _apply(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    as_of = None
    if args.as_of is not None:
        try:
            as_of = datetime.fromisoformat(args.as_of)
        except ValueError:
            raise InvalidInput(f"--as-of: {args.as_of!r} is not an ISO 8601 time") from None
    actor = f"cli:{args.by or getpass.getuser()}"
    async with bootstrap.running(settings) as container:
        with working("applying the retention periods"):
            report = await container.retention.apply(as_of=as_of, dry_run=args.dry_run, actor=actor)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
        return 0
    verb = "would erase" if report.dry_run else "erased"
    for event_type, figures in report.by_type.items():
        if figures["erased"]:
            print(
                f"{event_type}: {verb} {figures['erased']} (kept {figures['retention_days']} "
                f"days, events before {figures['cutoff']})"
            )
    print(f"{verb} the data of {report.erased} events as of {report.as_of.isoformat()}")
    return 0
