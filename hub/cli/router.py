"""`hub router` and `hub projections`: route stored notifications to their recipients, on their
own (`hub serve` runs the same router in-process), and rebuild the person profiles by replay."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from pathlib import Path

from hub import bootstrap
from hub.cli.common import Commands
from hub.domain.schemas import SchemaRegistry
from hub.infra.routing import SqlRoutingStore
from hub.services.ports import PolicyEngine
from hub.services.routing import CONSUMER, PolicyFactory, Router, rebuild_profiles
from hub.settings import PROJECT_ROOT, Settings

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


def policy_factory(settings: Settings, schemas: SchemaRegistry | None = None) -> PolicyFactory:
    """Loads the policy bundle in force (`HUB_POLICY_BUNDLE_DIR`), checked against the event
    schemas, when the router first needs it."""

    def load() -> PolicyEngine:
        # Imported here so that the CLI's other commands never pay for (or depend on) it.
        from hub.domain.policy import PolicyBundle

        directory: Path = getattr(settings, "policy_bundle_dir", PROJECT_ROOT / "policies/scotland")
        registry = schemas if schemas is not None else SchemaRegistry.load(settings.events_dir)
        bundle: PolicyEngine = PolicyBundle.load(directory, registry)
        return bundle

    return load


async def _router_run(args: argparse.Namespace, settings: Settings) -> int:
    async with bootstrap.running(settings) as container:
        router = Router(
            container.store,
            SqlRoutingStore(container.engine),
            policy_factory(settings, container.schemas),
            batch_size=args.batch_size,
            poll_interval=args.poll_interval,
        )
        # Load the bundle now, so that an invalid one stops the router before it starts.
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
        checkpoint = await SqlRoutingStore(container.engine).checkpoint(CONSUMER)
    print(f"router stopped at position {checkpoint}" + (f" ({routed} routed)" if routed else ""))
    return 0


async def _projections_rebuild(args: argparse.Namespace, settings: Settings) -> int:
    async with bootstrap.running(settings) as container:
        routing = SqlRoutingStore(container.engine)
        count = await rebuild_profiles(container.store, routing)
        checkpoint = await routing.checkpoint(CONSUMER)
    print(f"rebuilt {count} person profiles up to position {checkpoint}")
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value
