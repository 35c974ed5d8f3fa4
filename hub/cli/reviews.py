"""`hub reviews`: case-by-case review of proposed disclosures — list them, approve or decline
one with a reason (as an operator, whoever its reviewers are), or escalate those past their
rule's `escalate_after` now (`hub serve` does this in the background)."""

from __future__ import annotations

import argparse
import getpass
import json
from typing import TYPE_CHECKING

from hub.cli.choices import REVIEW_STATES
from hub.cli.common import Commands

if TYPE_CHECKING:
    from hub.settings import Settings


def register(commands: Commands) -> None:
    reviews = commands.add_parser("reviews", help="proposed disclosures awaiting review")
    review_commands = reviews.add_subparsers(title="reviews")

    listing = review_commands.add_parser("list", help="proposals, oldest first")
    listing.add_argument("--state", choices=REVIEW_STATES, help="only those in this state")
    listing.add_argument("--reviewer", help="only those this agency (recipient id) reviews")
    listing.add_argument("--limit", type=int, default=100, help="at most this many (default 100)")
    listing.add_argument("--json", action="store_true", help="as JSON lines")
    listing.set_defaults(run=_list)

    for name, outcome, what in (
        ("approve", "approved", "the recipient receives it now, in feed order"),
        ("decline", "declined", "the recipient never receives it"),
    ):
        decide = review_commands.add_parser(name, help=f"{name} a proposal: {what}")
        decide.add_argument("proposal_id")
        decide.add_argument("--reason", required=True, help="why (kept with the decision)")
        decide.add_argument("--by", default=None, help="who decided (default: the OS user)")
        decide.set_defaults(run=_decide, outcome=outcome)

    escalate = review_commands.add_parser(
        "escalate", help="escalate now the undecided proposals past their escalation time"
    )
    escalate.set_defaults(run=_escalate)


async def _list(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        found = await container.reviews.list(args.reviewer, state=args.state, limit=args.limit)
    for item in found:
        if args.json:
            print(json.dumps(item.to_json()))
        else:
            d = item.proposal.disclosure
            print(
                f"{item.proposal.proposal_id}  {item.state:<9} {d.event_type:<28} "
                f"to {d.recipient_id:<24} reviewers {','.join(item.proposal.reviewers) or '-'}"
            )
    return 0


async def _decide(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap
    from hub.services.reviews import OPERATOR

    async with bootstrap.running(settings) as container:
        item = await container.reviews.decide(
            args.proposal_id,
            args.outcome,
            args.reason,
            actor=args.by or getpass.getuser(),
            agency=OPERATOR,
            operator=True,
        )
    print(f"proposal {item.proposal.proposal_id} {item.state}")
    return 0


async def _escalate(args: argparse.Namespace, settings: Settings) -> int:
    from hub import bootstrap

    async with bootstrap.running(settings) as container:
        escalated = await container.review_escalator().run_once()
    print(f"{escalated} proposals escalated")
    return 0
