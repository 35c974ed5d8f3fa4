"""`hub keys`: rotation of the key-encryption key that wraps each person's data key."""

from __future__ import annotations

import argparse

from hub import bootstrap
from hub.cli.common import Commands
from hub.infra.protection import SqlPersonKeys, load_kek_ring
from hub.settings import Settings


def register(commands: Commands) -> None:
    keys = commands.add_parser("keys", help="the keys that protect sensitive fields at rest")
    key_commands = keys.add_subparsers(title="keys")
    rotate = key_commands.add_parser(
        "rotate",
        help="rewrap every live data key under HUB_DATA_KEK, unwrapping with "
        "HUB_DATA_PREVIOUS_KEKS (events are not touched)",
    )
    rotate.set_defaults(run=_rotate)


async def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    async with bootstrap.running(settings) as container:
        keys = SqlPersonKeys(container.engine, load_kek_ring(settings), container.audit_log)
        report = await keys.rotate()
    print(
        f"rewrapped {report.rewrapped} data key(s) under {settings.data_kek_id}; "
        f"{report.already_current} already under it; {report.destroyed} destroyed (left as is)"
    )
    return 0
