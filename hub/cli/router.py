"""`hub router` and `hub projections`: route stored notifications to their recipients, on their
own (`hub serve` runs the same router in-process), and rebuild the person profiles by replay."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from hub.cli.common import Commands
from hub.cli.progress import working

if TYPE_CHECKING:
    from hub.settings import Settings

logger = logging.getLogger("hub.router")


def register(commands: Commands) -> None:
    router = commands.add_parser("router", help="route notifications to their recipients")
    router_commands = router.add_subparsers(title="router")
    run = router_commands.add_parser(
        "run", help="route every stored notification in order, then keep following the store"
    )
    run.add_argument(
        "--until-idle", action="store_true", help="stop once every stored notification is routed"
    )
    run.add_argument(
        "--batch-size",
        type=_positive_int,
        default=100,
        help="notifications routed per transaction (default 100)",
    )
    run.add_argument(
        "--poll-interval",
        type=float,
        default=1.0,
        help="seconds between looks at the store when idle (default 1)",
    )
    run.set_defaults(run=_router_run)

    projections = commands.add_parser("projections", help="read models derived from the events")
    projection_commands = projections.add_subparsers(title="projections")
    rebuild = projection_commands.add_parser(
        "rebuild",
        help="recompute every person profile from the event store and replace the stored ones "
        "(stop the routers first when repairing wrong profiles)",
    )
    rebuild.set_defaults(run=_projections_rebuild)


async def _router_run(args: argparse.Namespace, settings: Settings) -> int:
    # The container's router and routing store: built by the composition root, they log every
    # decision to the audit trail in the transaction that records it (issue 13, finding 1).
    from hub import bootstrap
    from hub.services.routing import CONSUMER

    async with bootstrap.running(settings) as container:
        router = container.router(batch_size=args.batch_size, poll_interval=args.poll_interval)
        logger.info("routing with policy bundle version %s", router.policy.version)
        if args.until_idle:
            routed = await router.run_until_idle()
        else:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError):  # not on Windows
                    loop.add_signal_handler(signum, stop.set)
            await router.run(stop)
            routed = 0
        checkpoint = await container.routing.checkpoint(CONSUMER)
    print(f"router stopped at position {checkpoint}" + (f" ({routed} routed)" if routed else ""))
    return 0


async def _projections_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.services.routing import CONSUMER, rebuild_profiles

    async with bootstrap.running(settings) as container:
        with working("rebuilding the person profiles from the event store"):
            count = await rebuild_profiles(
                container.store, container.routing, container.policy.statuses
            )
        checkpoint = await container.routing.checkpoint(CONSUMER)
    print(f"rebuilt {count} person profiles up to position {checkpoint}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
