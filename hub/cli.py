"""The `hub` command: run the hub, migrate its database, register agency clients."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from pydantic import ValidationError

from hub import bootstrap
from hub.auth.secrets import hash_secret
from hub.errors import HubError
from hub.infra import db
from hub.services.clients import SCOPES, register_client
from hub.settings import Settings

Command = Callable[[argparse.Namespace, Settings], Coroutine[Any, Any, int]]


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = Settings()
        run: Command = args.run
        return asyncio.run(run(args, settings))
    except ValidationError as error:
        print(f"error: invalid settings:\n{error}", file=sys.stderr)
        return 2
    except HubError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hub",
        description="Public Protection Hub. Settings come from HUB_* environment variables.",
    )
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", help="run the hub (API and workers) in one process")
    serve.add_argument("--host", help="address to bind (default HUB_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to bind (default HUB_PORT or 8000)")
    serve.set_defaults(run=_serve)

    database = commands.add_parser("db", help="database schema").add_subparsers(title="db")
    upgrade = database.add_parser("upgrade", help="apply the Alembic migrations")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(run=_db_upgrade)

    clients = commands.add_parser("clients", help="agency systems that may call the hub")
    client_commands = clients.add_subparsers(title="clients")
    add = client_commands.add_parser(
        "add",
        help="register a client and print its id and secret (the secret is shown only once)",
        epilog="scopes: " + "; ".join(f"{name} ({meaning})" for name, meaning in SCOPES.items()),
    )
    add.add_argument("--name", required=True, help="the system, e.g. 'PR2 HMP Barlinnie'")
    add.add_argument("--agency", required=True, help="the agency it acts for, e.g. 'sps'")
    add.add_argument(
        "--scope",
        action="append",
        required=True,
        help="a scope it may use; repeat, or separate with spaces",
    )
    add.add_argument("--json", action="store_true", help="print one JSON object, for scripts")
    add.set_defaults(run=_clients_add)
    listing = client_commands.add_parser("list", help="list registered clients")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_clients_list)
    disable = client_commands.add_parser("disable", help="stop a client from getting tokens")
    disable.add_argument("client_id")
    disable.set_defaults(run=_clients_disable)
    return parser


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


async def _db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine = db.create_engine(settings)
    try:
        await db.upgrade(engine, settings, args.revision)
        async with engine.connect() as connection:
            print(f"database at revision {await db.current_revision(connection)}")
    finally:
        await engine.dispose()
    return 0


async def _clients_add(args: argparse.Namespace, settings: Settings) -> int:
    scopes = sorted({s for value in args.scope for s in value.split()})
    async with bootstrap.running(settings) as container:
        client, secret = await register_client(
            container.clients,
            name=args.name,
            agency=args.agency,
            scopes=scopes,
            hash_secret=hash_secret,
        )
    if args.json:
        print(
            json.dumps(
                {
                    "client_id": client.client_id,
                    "client_secret": secret,
                    "name": client.name,
                    "agency": client.agency,
                    "scopes": sorted(client.scopes),
                }
            )
        )
    else:
        print(f"client_id:     {client.client_id}")
        print(f"client_secret: {secret}")
        print(f"agency:        {client.agency}")
        print(f"scopes:        {' '.join(sorted(client.scopes))}")
        print("Keep the secret now: the hub stores only its hash and cannot show it again.")
    return 0


async def _clients_list(args: argparse.Namespace, settings: Settings) -> int:
    async with bootstrap.running(settings) as container:
        clients = await container.clients.list_all()
    rows = [
        {
            "client_id": c.client_id,
            "name": c.name,
            "agency": c.agency,
            "scopes": sorted(c.scopes),
            "created_at": c.created_at.isoformat(),
            "disabled": c.disabled_at is not None,
        }
        for c in clients
    ]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            state = "disabled" if row["disabled"] else "active"
            print(f"{row['client_id']}  {row['agency']:<12} {state:<8} {row['name']}")
    return 0


async def _clients_disable(args: argparse.Namespace, settings: Settings) -> int:
    async with bootstrap.running(settings) as container:
        await container.clients.disable(args.client_id)
    print(f"client {args.client_id} disabled")
    return 0


if __name__ == "__main__":
    sys.exit(main())
