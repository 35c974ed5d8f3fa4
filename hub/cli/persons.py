"""`hub persons`: the subject index's review list of identifier conflicts, and the erasure of a
person's sensitive fields by destroying their data keys (crypto-shredding)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import TYPE_CHECKING

from hub.cli.common import Commands
from hub.errors import NotFound

if TYPE_CHECKING:
    from hub.services.conflicts import IdentifierConflictCase
    from hub.settings import Settings


def register(commands: Commands) -> None:
    persons = commands.add_parser("persons", help="people and their identifiers")
    person_commands = persons.add_subparsers(title="persons")
    conflicts = person_commands.add_parser(
        "conflicts",
        help="notifications refused because their identifiers belong to two different people, "
        "or would give a person a second value of a single-valued scheme (a second SPS number)",
    )
    conflicts.add_argument("--all", action="store_true", help="include resolved cases")
    conflicts.add_argument("--json", action="store_true", help="print JSON, for scripts")
    conflicts.set_defaults(run=_list_conflicts)
    resolve = person_commands.add_parser(
        "resolve-conflict", help="close a conflict case, saying what was decided"
    )
    resolve.add_argument("review_id")
    resolve.add_argument(
        "--resolution",
        required=True,
        help="what was decided, e.g. 'PNC ID was mistyped by the sender; corrected and re-sent'",
    )
    resolve.add_argument("--by", default=None, help="who resolved it (default: the OS user)")
    resolve.set_defaults(run=_resolve)
    erase = person_commands.add_parser(
        "erase",
        help="destroy a person's data keys: their encrypted fields become unreadable everywhere "
        "(events and the audit trail stay)",
    )
    erase.add_argument("person", help="a person id (p_…) or an identifier as scheme:value")
    erase.add_argument("--reason", required=True, help="why, e.g. a court order's reference")
    erase.add_argument("--by", default=None, help="who decided it (default: the OS user)")
    erase.set_defaults(run=_erase)


def _as_json(case: IdentifierConflictCase) -> dict[str, object]:
    return {
        "review_id": case.review_id,
        "raised_at": case.raised_at.isoformat(),
        "source": case.source,
        "event_id": case.event_id,
        "event_type": case.event_type,
        "publisher_agency": case.publisher.agency,
        "publisher_client_id": case.publisher.client_id,
        "kind": case.kind,
        "kind_title": case.kind_title,
        "claims": dict(case.claims),
        "second_values": case.second_values,
        "resolved_at": case.resolved_at.isoformat() if case.resolved_at else None,
        "resolved_by": case.resolved_by,
        "resolution": case.resolution,
    }


async def _list_conflicts(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        cases = await container.conflicts.list_cases(include_resolved=args.all)
    if args.json:
        print(json.dumps([_as_json(c) for c in cases]))
        return 0
    if not cases:
        print("no open identifier conflicts" if not args.all else "no identifier conflicts")
    for case in cases:
        state = "open" if case.is_open else f"resolved by {case.resolved_by}: {case.resolution}"
        print(f"{case.review_id}  {case.raised_at:%Y-%m-%d %H:%M}  {case.event_type}")
        print(f"    {case.kind_title}")
        print(f"    from {case.publisher.agency} ({case.source}, id {case.event_id}) — {state}")
        for identifier, person in sorted(case.claims.items()):
            print(f"    {identifier} belongs to {person}")
        for identifier in case.second_values:
            print(f"    {identifier} would be a second value for its person")
    return 0


async def _resolve(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        case = await container.conflicts.resolve(
            args.review_id, resolution=args.resolution, resolved_by=args.by or getpass.getuser()
        )
    print(f"{case.review_id} resolved by {case.resolved_by}")
    return 0


async def _erase(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.domain.notifications import PersonIdentifier

    async with bootstrap.running(settings) as container:
        person: str = args.person
        if ":" in person:
            scheme, value = person.split(":", 1)
            person_id = await container.store.resolve_person([PersonIdentifier(scheme, value)])
        else:
            person_id = person if await container.store.identifiers_of(person) else None
        if person_id is None:
            raise NotFound(f"no person is known as {person}")
        destroyed = await container.keys.people.erase(
            person_id, reason=args.reason, actor=args.by or getpass.getuser()
        )
    if destroyed:
        print(f"{person_id}: destroyed {len(destroyed)} data key(s); erasure logged")
    else:
        print(f"{person_id}: no live data key (nothing encrypted, or already erased)")
    return 0
