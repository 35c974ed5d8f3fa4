"""`hub serve`: the API and the workers in one process."""

from __future__ import annotations

import argparse

from hub.cli.common import Commands
from hub.settings import Settings


def register(commands: Commands) -> None:
    serve = commands.add_parser("serve", help="run the hub (API and workers) in one process")
    serve.add_argument("--host", help="address to bind (default HUB_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default HUB_PORT or 8000)")
    serve.set_defaults(run=_serve)


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from hub.api.app import create_app

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update=overrides)
    app = create_app(settings)
    config = uvicorn.Config(
        app, host=settings.host, port=settings.port, log_level="info", server_header=False
    )
    await uvicorn.Server(config).serve()
    return 0
