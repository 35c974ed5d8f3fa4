"""`hub adapter <name> ingest|watch`: the command line only; the work is `hub.cli.adapter`'s,
imported when a command runs (it loads the adapters' parsers and the hub's services)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli.choices import ADAPTERS
from hub.cli.common import Commands

if TYPE_CHECKING:
    from hub.settings import Settings


def register(commands: Commands) -> None:
    parser = commands.add_parser(
        "adapter", help="ingest agency systems' own files (PR2, ViSOR, social work)"
    )
    by_name = parser.add_subparsers(title="adapters", metavar="{" + ",".join(ADAPTERS) + "}")
    for name, description in ADAPTERS.items():
        one = by_name.add_parser(name, help=description)
        actions = one.add_subparsers(title="commands")

        ingest = actions.add_parser(
            "ingest", help="ingest a file, or every file of a folder, and report every record"
        )
        ingest.add_argument("path", type=Path, help="a native file, or a folder of them")
        ingest.add_argument(
            "--dry-run",
            action="store_true",
            help="parse and check against the store; store nothing",
        )
        ingest.add_argument(
            "--quarantine",
            type=Path,
            help="where rejected records go (default: quarantine/ beside the input)",
        )
        ingest.add_argument(
            "--json", action="store_true", help="the report as JSON on stdout (summary on stderr)"
        )
        ingest.set_defaults(run=_ingest, adapter_name=name)

        watch = actions.add_parser(
            "watch",
            help="ingest each new file dropped in a folder, then move it to done/ or failed/ "
            "with its report; until SIGTERM or Ctrl-C",
        )
        watch.add_argument("folder", type=Path, help="the drop folder")
        watch.add_argument(
            "--interval", type=float, default=1.0, help="seconds between looks (default 1)"
        )
        watch.add_argument(
            "--quarantine", type=Path, help="where rejected records go (default: FOLDER/quarantine)"
        )
        watch.set_defaults(run=_watch, adapter_name=name)


async def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from hub.cli import adapter

    return await adapter.ingest(args, settings)


async def _watch(args: argparse.Namespace, settings: Settings) -> int:
    from hub.cli import adapter

    return await adapter.watch(args, settings)
