"""`hub deliveries`: the webhook outbox — list deliveries (the dead letters above all), replay
one, or run a delivery worker on its own (`hub serve` runs one in-process)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import logging
import signal
from typing import TYPE_CHECKING

from hub.cli.choices import DELIVERY_STATUSES
from hub.cli.common import Commands

if TYPE_CHECKING:
    from hub.services.delivery import Delivery
    from hub.settings import Settings

logger = logging.getLogger("hub.delivery")


def register(commands: Commands) -> None:
    deliveries = commands.add_parser("deliveries", help="webhook deliveries and dead letters")
    delivery_commands = deliveries.add_subparsers(title="deliveries")

    listing = delivery_commands.add_parser("list", help="deliveries, oldest first")
    listing.add_argument("--status", choices=DELIVERY_STATUSES, help="only those in this state")
    listing.add_argument("--recipient", help="only this recipient's")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--after", help="start after this delivery id (the last one shown)")
    listing.add_argument("--json", action="store_true", help="as JSON lines")
    listing.set_defaults(run=_list)

    replay = delivery_commands.add_parser(
        "replay", help="send a dead or cancelled delivery again, with the same webhook-id"
    )
    replay.add_argument("delivery_id")
    replay.add_argument(
        "--by", default=None, help="who asks, for the audit trail (default: the OS user)"
    )
    replay.set_defaults(run=_replay)

    run = delivery_commands.add_parser(
        "run", help="claim and send due webhook deliveries until stopped (SIGTERM, Ctrl-C)"
    )
    run.add_argument(
        "--until-idle",
        action="store_true",
        help="stop once no delivery is due (those waiting for a later retry are left)",
    )
    run.set_defaults(run=_run)


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        found = await container.deliveries.find(
            args.recipient, status=args.status, limit=args.limit, after=args.after
        )
    for delivery in found:
        if args.json:
            print(json.dumps(_as_json(delivery)))
        else:
            print(
                f"{delivery.delivery_id}  {delivery.status:<9} {delivery.attempts:>2} attempts  "
                f"{delivery.recipient_id:<20} {delivery.disclosure_id}  "
                f"{delivery.last_error or ''}".rstrip()
            )
    return 0


async def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.services.audit_queries import Principal

    async with bootstrap.running(settings) as container:
        delivery = await container.deliveries.replay(
            None, args.delivery_id, Principal(f"cli:{args.by or getpass.getuser()}", "hub-operator")
        )
    print(f"delivery {delivery.delivery_id} is pending again (webhook-id {delivery.disclosure_id})")
    return 0


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        worker = container.delivery_worker()
        logger.info("delivery worker %s started", worker.worker_id)
        if args.until_idle:
            sent = await worker.run_until_idle()
            print(f"delivery worker stopped: nothing due ({sent} deliveries attempted)")
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):  # not on Windows
                loop.add_signal_handler(signum, stop.set)
        await worker.run(stop)
    print("delivery worker stopped")
    return 0


def _as_json(delivery: Delivery) -> dict[str, object]:
    return {
        "id": delivery.delivery_id,
        "disclosure_id": delivery.disclosure_id,
        "subscription_id": delivery.subscription_id,
        "recipient_id": delivery.recipient_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "next_attempt_at": delivery.next_attempt_at.isoformat(),
        "last_error": delivery.last_error,
        "created_at": delivery.created_at.isoformat(),
        "delivered_at": None
        if delivery.delivered_at is None
        else delivery.delivered_at.isoformat(),
    }
