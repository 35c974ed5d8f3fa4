"""`hub clients`: the agency systems that may call the hub (OAuth 2.0 clients)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hub import bootstrap
from hub.auth.client_keys import public_jwks
from hub.auth.secrets import hash_secret
from hub.cli.common import Commands
from hub.errors import InvalidInput
from hub.services.clients import HUB_AGENCIES, SCOPES, register_client, register_key_client
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
    add.add_argument(
        "--agency",
        required=True,
        help="the directory agency it acts for, e.g. 'sps', or one of the hub's own roles: "
        + ", ".join(HUB_AGENCIES),
    )
    add.add_argument(
        "--jwks",
        metavar="FILE",
        type=Path,
        help="the client's public key(s), a JWK Set or JWK in JSON: it authenticates with "
        "private_key_jwt (RFC 7523) and gets no secret",
    )
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
    jwks = None
    if args.jwks is not None:
        try:
            jwks = public_jwks(args.jwks.read_bytes())
        except OSError as error:
            raise InvalidInput(f"cannot read {args.jwks}: {error.strerror}") from error
    secret: str | None = None
    async with bootstrap.running(settings) as container:
        if jwks is None:
            client, secret = await register_client(
                container.clients,
                name=args.name,
                agency=args.agency,
                scopes=scopes,
                hash_secret=hash_secret,
                known_agencies=container.policy.directory.recipients,
            )
        else:
            client = await register_key_client(
                container.clients,
                name=args.name,
                agency=args.agency,
                scopes=scopes,
                jwks=jwks,
                known_agencies=container.policy.directory.recipients,
            )
    kids = [] if jwks is None else [k["kid"] for k in json.loads(jwks)["keys"]]
    if args.json:
        shown = {
            "client_id": client.client_id,
            "name": client.name,
            "agency": client.agency,
            "scopes": sorted(client.scopes),
        }
        shown |= {"client_secret": secret} if secret is not None else {"key_ids": kids}
        print(json.dumps(shown))
    else:
        print(f"client_id:     {client.client_id}")
        if secret is not None:
            print(f"client_secret: {secret}")
        else:
            print(f"key ids:       {' '.join(kids)} (authenticates with private_key_jwt)")
        print(f"agency:        {client.agency}")
        print(f"scopes:        {' '.join(sorted(client.scopes))}")
        if secret is not None:
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
