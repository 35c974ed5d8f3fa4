"""`hub keys`: rotation of the key-encryption key that wraps each person's data keys, the
webhook subscriptions' signing secrets and the keys of parked identifier-conflict notifications;
new Ed25519 keys for signing webhooks (`webhook-key`)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from hub.cli.common import Commands
from hub.cli.progress import working

if TYPE_CHECKING:
    from hub.settings import Settings


def register(commands: Commands) -> None:
    keys = commands.add_parser("keys", help="the keys that protect sensitive fields at rest")
    key_commands = keys.add_subparsers(title="keys")
    rotate = key_commands.add_parser(
        "rotate",
        help="rewrap every live data key, webhook signing secret and identifier-conflict key "
        "under HUB_DATA_KEK, unwrapping with HUB_DATA_PREVIOUS_KEKS (events are not touched)",
    )
    rotate.set_defaults(run=_rotate)
    webhook_key = key_commands.add_parser(
        "webhook-key",
        help="print a new Ed25519 private key (PEM) for HUB_WEBHOOK_SIGNING_KEY, and its public "
        "key (whpk_…) to stderr; see docs/webhooks.md for a rotation",
    )
    webhook_key.set_defaults(run=_webhook_key)


async def _webhook_key(args: argparse.Namespace, settings: Settings) -> int:
    from hub.auth.webhook_keys import generate_webhook_pem, webhook_key_from_pem

    pem = generate_webhook_pem()
    key = webhook_key_from_pem(pem, "active", "the new key")
    sys.stdout.write(pem.decode("ascii"))
    print(f"public key {key.public_key} (kid {key.kid})", file=sys.stderr)
    return 0


async def _rotate(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        with working(f"rewrapping the data keys under {settings.data_kek_id}"):
            report = await container.keys.people.rotate()
            secrets = await container.keys.webhook_secrets.rewrap_secrets()
            conflicts = await container.keys.conflicts.rewrap_keys()
    print(
        f"rewrapped {report.rewrapped} data key(s) under {settings.data_kek_id}; "
        f"{report.already_current} already under it; {report.destroyed} destroyed (left as is)"
    )
    print(
        f"rewrapped {secrets.rewrapped} webhook signing secret(s) under {settings.data_kek_id}; "
        f"{secrets.already_current} already under it; sealed the plaintext secrets of "
        f"{secrets.sealed} subscription(s)"
    )
    print(
        f"rewrapped {conflicts.rewrapped} identifier-conflict key(s) under {settings.data_kek_id}; "
        f"{conflicts.already_current} already under it; {conflicts.destroyed} destroyed (left as "
        f"is); sealed {conflicts.sealed} parked notification(s)"
    )
    return 0
