"""Proposed disclosures and their review (policies/README.md, "Review").

A permitted decision under a rule with `review` is recorded as a `Proposal`: the disclosure it
would be, who may decide it, and when it escalates. Nothing of it reaches the recipient. A
reviewer approves it (the disclosure is then recorded, decided at the approval, and enters the
recipient's feed, webhooks and Kafka channel in feed order) or declines it (never delivered);
each with a reason. A proposal is decided once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final, Literal

from hub.domain.disclosures import Disclosure
from hub.domain.policy.review import ReviewRequest
from hub.errors import InvalidInput

__all__ = [
    "MAX_REASON_LENGTH",
    "Proposal",
    "ReviewOutcome",
    "disclosure_document",
    "disclosure_from_document",
    "escalate_at",
    "proposal_id",
    "propose",
    "review_reason",
]

#: How long a reviewer's reason may be (it is kept with the decision, not in the audit log).
MAX_REASON_LENGTH: Final = 2000

ReviewOutcome = Literal["approved", "declined"]


@dataclass(frozen=True, slots=True)
class Proposal:
    """A disclosure held for review."""

    disclosure: Disclosure
    #: The reviewed rules that hold it.
    rules: tuple[str, ...]
    #: The recipient ids of the disclosing side who may approve or decline it.
    reviewers: tuple[str, ...]
    #: When an undecided proposal escalates; None: it never does.
    escalate_at: datetime | None

    @property
    def proposal_id(self) -> str:
        return proposal_id(self.disclosure.disclosure_id)

    def approved(self, at: datetime) -> Disclosure:
        """The disclosure as approved at `at`: decided then (its acknowledgement time runs
        from the approval, not from the proposal)."""
        return replace(self.disclosure, decided_at=at)


def propose(disclosure: Disclosure, request: ReviewRequest) -> Proposal:
    """`disclosure`, held for the review `request` asks for."""
    return Proposal(
        disclosure=disclosure,
        rules=request.rules,
        reviewers=request.reviewers,
        escalate_at=escalate_at(disclosure.decided_at, request.escalate_after),
    )


def proposal_id(disclosure_id: str) -> str:
    """A proposal's id: its disclosure's id with the prefix `p_` (`d_…` → `p_…`)."""
    return "p_" + disclosure_id.removeprefix("d_")


def escalate_at(decided_at: datetime, after: timedelta | None) -> datetime | None:
    return None if after is None else decided_at + after


def review_reason(reason: str) -> str:
    """A reviewer's reason, checked: required, printable, bounded."""
    text = reason.strip()
    if not text:
        raise InvalidInput("a review decision needs a reason")
    if len(text) > MAX_REASON_LENGTH:
        raise InvalidInput(f"a review reason is at most {MAX_REASON_LENGTH} characters")
    if not all(c.isprintable() or c in "\n\t" for c in text):
        raise InvalidInput("a review reason must not contain control characters")
    return text


def disclosure_document(disclosure: Disclosure) -> dict[str, Any]:
    """The proposed disclosure as JSON, kept with the proposal until it is decided."""
    within = disclosure.acknowledge_within
    return {
        "disclosure_id": disclosure.disclosure_id,
        "event_position": disclosure.event_position,
        "event_id": disclosure.event_id,
        "source": disclosure.source,
        "event_type": disclosure.event_type,
        "person_id": disclosure.person_id,
        "recipient_id": disclosure.recipient_id,
        "fields": list(disclosure.fields),
        "rules": list(disclosure.rules),
        "purposes": list(disclosure.purposes),
        "legal_bases": list(disclosure.legal_bases),
        "policy_version": disclosure.policy_version,
        "profile_position": disclosure.profile_position,
        "trigger_position": disclosure.trigger_position,
        "acknowledge_within_seconds": None if within is None else round(within.total_seconds()),
        "decided_at": disclosure.decided_at.isoformat(),
        "supplied_identifiers": dict(disclosure.supplied_identifiers),
    }


def disclosure_from_document(document: Mapping[str, Any]) -> Disclosure:
    within = document["acknowledge_within_seconds"]
    return Disclosure(
        disclosure_id=document["disclosure_id"],
        event_position=int(document["event_position"]),
        event_id=document["event_id"],
        source=document["source"],
        event_type=document["event_type"],
        person_id=document["person_id"],
        recipient_id=document["recipient_id"],
        fields=tuple(document["fields"]),
        rules=tuple(document["rules"]),
        purposes=tuple(document["purposes"]),
        legal_bases=tuple(document["legal_bases"]),
        policy_version=document["policy_version"],
        profile_position=int(document["profile_position"]),
        trigger_position=int(document["trigger_position"]),
        acknowledge_within=None if within is None else timedelta(seconds=int(within)),
        decided_at=datetime.fromisoformat(document["decided_at"]),
        supplied_identifiers=dict(document.get("supplied_identifiers") or {}),
    )
