"""`hub serve`: the API and the workers, all in one process or, scaled out, one role a process
(`--role api|relay|router|delivery|all`)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal

from hub import bootstrap
from hub.bootstrap import ROLES, Role
from hub.cli.common import Commands
from hub.settings import Settings

logger = logging.getLogger("hub")


def register(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the hub (API and workers)")
    serve.add_argument("--host", help="address to bind (default HUB_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default HUB_PORT or 8000)")
    serve.add_argument(
        "--role",
        choices=ROLES,
        default="all",
        help="what this process runs: the HTTP API (with the audit sequencer and Kafka intake), "
        "the outbox relay to Kafka, routing, webhook delivery, or all of them (default)",
    )
    serve.set_defaults(run=_serve)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    role: Role = args.role
    if role not in ("api", "all"):
        return await _serve_workers(settings, role)
    import uvicorn

    from hub.api.app import create_app

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    app = create_app(settings, role=role)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info", server_header=False
    )
    await uvicorn.Server(config).serve()
    return 0


async def _serve_workers(settings: Settings, role: Role) -> int:
    """A worker role without the HTTP API: runs until SIGTERM or SIGINT (exit 0), or until a
    worker fails (exit 1, so that the process supervisor restarts it)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with (
        bootstrap.running(settings) as container,
        bootstrap.workers(container, role) as tasks,
    ):
        if not tasks:
            logger.error("role %s has no worker enabled by the settings", role)
            return 1
        logger.info("hub serving role %s: %s", role, ", ".join(sorted(tasks)))
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([stopping, *tasks.values()], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        failed = [name for name, task in tasks.items() if task.done()]
    if failed and not stop.is_set():
        logger.error("worker(s) %s stopped: leaving", ", ".join(failed))
        return 1
    return 0
