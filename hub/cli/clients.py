"""`hub clients`: the agency systems that may call the hub (OAuth 2.0 clients)."""

from __future__ import annotations

import argparse
import json

from hub import bootstrap
from hub.auth.secrets import hash_secret
from hub.cli.common import Commands
from hub.services.clients import SCOPES, register_client
from hub.settings import Settings


def register(commands: Commands) -> None:
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


async def _clients_add(args: argparse.Namespace, settings: Settings) -> int:
    scopes = sorted({s for value in args.scope for s in value.split()})
    async with bootstrap.running(settings) as container:
        client, secret = await register_client(
            container.clients,
            name=args.name,
            agency=args.agency,
            scopes=scopes,
            hash_secret=hash_secret,
            known_agencies=container.policy.directory.recipients,
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
