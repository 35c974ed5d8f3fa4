"""`hub clients`: the agency systems that may call the hub (OAuth 2.0 clients)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli.common import Commands
from hub.errors import InvalidInput
from hub.services.clients import HUB_AGENCIES, SCOPES

if TYPE_CHECKING:
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
    rotate = client_commands.add_parser(
        "rotate-secret",
        help="give a client a new secret and print it (shown only once); the old secret stops "
        "working at once, tokens already issued with it live out their lifetime",
    )
    rotate.add_argument("client_id")
    rotate.add_argument("--json", action="store_true", help="print one JSON object, for scripts")
    rotate.set_defaults(run=_clients_rotate_secret)
    set_keys = client_commands.add_parser(
        "set-keys",
        help="replace the public keys of a private_key_jwt client; assertions signed by a key "
        "no longer registered are refused from now on",
    )
    set_keys.add_argument("client_id")
    set_keys.add_argument(
        "--jwks",
        metavar="FILE",
        type=Path,
        required=True,
        help="the client's new public key(s), a JWK Set or JWK in JSON (as for `add --jwks`)",
    )
    set_keys.add_argument("--json", action="store_true", help="print one JSON object, for scripts")
    set_keys.set_defaults(run=_clients_set_keys)


def _read_jwks(path: Path) -> str:
    """The public JWK Set in `path`, checked (`hub.auth.client_keys.public_jwks`)."""
    from hub.auth.client_keys import public_jwks

    try:
        document = path.read_bytes()
    except OSError as error:
        raise InvalidInput(f"cannot read {path}: {error.strerror}") from error
    return public_jwks(document)


async def _clients_add(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.auth.secrets import hash_secret
    from hub.services.clients import register_client, register_key_client

    scopes = sorted({s for value in args.scope for s in value.split()})
    jwks = None if args.jwks is None else _read_jwks(args.jwks)
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
    from hub import bootstrap

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
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        await container.clients.disable(args.client_id)
    print(f"client {args.client_id} disabled")
    return 0


async def _clients_rotate_secret(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.auth.secrets import hash_secret
    from hub.services.clients import rotate_client_secret

    async with bootstrap.running(settings) as container:
        client, secret = await rotate_client_secret(
            container.clients, args.client_id, hash_secret=hash_secret
        )
    if args.json:
        print(json.dumps({"client_id": client.client_id, "client_secret": secret}))
    else:
        print(f"client_id:     {client.client_id}")
        print(f"client_secret: {secret}")
        print(
            "The old secret no longer works. Keep this one now: the hub stores only its hash "
            "and cannot show it again."
        )
    return 0


async def _clients_set_keys(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.services.clients import replace_client_keys

    # Checked before anything is opened: a refused file changes nothing.
    jwks = _read_jwks(args.jwks)
    async with bootstrap.running(settings) as container:
        client = await replace_client_keys(container.clients, args.client_id, jwks=jwks)
    kids = [k["kid"] for k in json.loads(jwks)["keys"]]
    if args.json:
        print(json.dumps({"client_id": client.client_id, "key_ids": kids}))
    else:
        print(f"client {client.client_id} now authenticates with key(s): {' '.join(kids)}")
    return 0
