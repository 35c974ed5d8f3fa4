"""`hub clients`: the agency systems that may call the hub (OAuth 2.0 clients).

A thin caller of `hub.services.client_admin`, as `/v1/admin/clients` is: the same checks, the
same audit entries (actor `cli:<user>` of the hub operator)."""

from __future__ import annotations

import argparse
import getpass
import json
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli.common import Commands
from hub.errors import InvalidInput
from hub.services.client_admin import Operator, auth_method, key_ids
from hub.services.clients import HUB_AGENCIES, SCOPES, RegisteredClient

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
    listing.add_argument("--agency", help="only the clients of this agency")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_clients_list)
    disable = client_commands.add_parser(
        "disable", help="stop a client from getting tokens; its tokens are refused at once"
    )
    disable.add_argument("client_id")
    disable.set_defaults(run=_clients_disable)
    enable = client_commands.add_parser("enable", help="let a disabled client in again")
    enable.add_argument("client_id")
    enable.set_defaults(run=_clients_enable)
    set_scopes = client_commands.add_parser(
        "set-scopes", help="replace a client's scopes (each one its agency may hold)"
    )
    set_scopes.add_argument("client_id")
    set_scopes.add_argument(
        "--scope", action="append", required=True, help="a scope; repeat, or separate with spaces"
    )
    set_scopes.add_argument("--json", action="store_true", help="print one JSON object")
    set_scopes.set_defaults(run=_clients_set_scopes)
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


def _operator() -> Operator:
    return Operator(f"cli:{getpass.getuser()}", "hub-operator")


def _scopes(values: list[str]) -> list[str]:
    return sorted({s for value in values for s in value.split()})


def client_view(client: RegisteredClient) -> dict[str, object]:
    """What `list --json` prints of a client (never its secret's hash)."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "agency": client.agency,
        "scopes": sorted(client.scopes),
        "auth_method": auth_method(client),
        "created_at": client.created_at.isoformat(),
        "disabled": client.disabled_at is not None,
    }


async def _clients_add(args: argparse.Namespace, settings: Settings) -> int:
    from hub.bootstrap_admin import administering

    jwks = None if args.jwks is None else _read_jwks(args.jwks)
    async with administering(settings) as admin:
        added = await admin.client_administration().register(
            name=args.name,
            agency=args.agency,
            scopes=_scopes(args.scope),
            jwks=jwks,
            by=_operator(),
        )
    client, secret = added.client, added.secret
    kids = key_ids(client)
    if args.json:
        shown: dict[str, object] = {
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
    from hub.bootstrap_admin import administering

    async with administering(settings) as admin:
        clients = await admin.client_administration().list_clients(agency=args.agency)
    rows = [client_view(c) for c in clients]
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            state = "disabled" if row["disabled"] else "active"
            print(f"{row['client_id']}  {row['agency']!s:<12} {state:<8} {row['name']}")
    return 0


async def _clients_disable(args: argparse.Namespace, settings: Settings) -> int:
    from hub.bootstrap_admin import administering

    async with administering(settings) as admin:
        await admin.client_administration().update(args.client_id, enabled=False, by=_operator())
    print(f"client {args.client_id} disabled")
    return 0


async def _clients_enable(args: argparse.Namespace, settings: Settings) -> int:
    from hub.bootstrap_admin import administering

    async with administering(settings) as admin:
        await admin.client_administration().update(args.client_id, enabled=True, by=_operator())
    print(f"client {args.client_id} enabled")
    return 0


async def _clients_set_scopes(args: argparse.Namespace, settings: Settings) -> int:
    from hub.bootstrap_admin import administering

    async with administering(settings) as admin:
        client = await admin.client_administration().update(
            args.client_id, scopes=_scopes(args.scope), by=_operator()
        )
    if args.json:
        print(json.dumps(client_view(client)))
    else:
        print(f"client {client.client_id} now holds: {' '.join(sorted(client.scopes))}")
    return 0


async def _clients_rotate_secret(args: argparse.Namespace, settings: Settings) -> int:
    from hub.bootstrap_admin import administering

    async with administering(settings) as admin:
        rotated = await admin.client_administration().rotate(
            args.client_id, jwks=None, by=_operator()
        )
    if args.json:
        print(json.dumps({"client_id": rotated.client.client_id, "client_secret": rotated.secret}))
    else:
        print(f"client_id:     {rotated.client.client_id}")
        print(f"client_secret: {rotated.secret}")
        print(
            "The old secret no longer works. Keep this one now: the hub stores only its hash "
            "and cannot show it again."
        )
    return 0


async def _clients_set_keys(args: argparse.Namespace, settings: Settings) -> int:
    from hub.bootstrap_admin import administering

    # Checked before anything is opened: a refused file changes nothing.
    jwks = _read_jwks(args.jwks)
    async with administering(settings) as admin:
        rotated = await admin.client_administration().rotate(
            args.client_id, jwks=jwks, by=_operator()
        )
    kids = key_ids(rotated.client)
    if args.json:
        print(json.dumps({"client_id": rotated.client.client_id, "key_ids": kids}))
    else:
        print(f"client {rotated.client.client_id} now authenticates with key(s): {' '.join(kids)}")
    return 0
