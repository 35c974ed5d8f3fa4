"""Case-by-case review (policies/README.md, "Review"): reviewers of the disclosing side approve or
decline proposed disclosures, and undecided ones escalate.

A proposal is decided once, by one of its reviewers (a client acting for an agency the proposal
names, through `/v1/reviews`) or by an operator (`hub reviews`). Approval records the
disclosure, decided at the approval, and numbers it in the recipient's feed in the same
transaction, so it then reaches the recipient's feed, webhooks and Kafka channel exactly as a
disclosure the router recorded; a declined one never does. Every step is logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

from hub.domain.reviews import Proposal, ReviewOutcome, review_reason
from hub.errors import Conflict, InvalidInput, NotFound
from hub.services.worker import WorkerLoop

__all__ = [
    "OPERATOR",
    "ReviewEscalator",
    "ReviewItem",
    "ReviewService",
    "ReviewState",
    "ReviewStore",
]

logger = logging.getLogger("hub.reviews")

#: The agency recorded for a decision an operator makes through the CLI (any proposal, whoever
#: its reviewers are). A client acting for this agency through the API is no reviewer: the API
#: binds every call to the caller's own agency.
OPERATOR: Final = "hub-operator"

ReviewState = Literal["pending", "escalated", "approved", "declined"]
STATES: Final[tuple[ReviewState, ...]] = ("pending", "escalated", "approved", "declined")


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A proposal as the review list shows it, with its decision or escalation if any."""

    proposal: Proposal
    proposed_at: datetime
    escalated_at: datetime | None = None
    outcome: ReviewOutcome | None = None
    reason: str | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None

    @property
    def state(self) -> ReviewState:
        if self.outcome is not None:
            return self.outcome
        return "escalated" if self.escalated_at is not None else "pending"

    def to_json(self) -> dict[str, Any]:
        d = self.proposal.disclosure

        def moment(value: datetime | None) -> str | None:
            return None if value is None else value.astimezone(UTC).isoformat()

        return {
            "proposal_id": self.proposal.proposal_id,
            "disclosure_id": d.disclosure_id,
            "state": self.state,
            "recipient_id": d.recipient_id,
            "person_id": d.person_id,
            "event_id": d.event_id,
            "event_type": d.event_type,
            "fields": list(d.fields),
            "rules": list(d.rules),
            "review_rules": list(self.proposal.rules),
            "purposes": list(d.purposes),
            "legal_bases": list(d.legal_bases),
            "reviewers": list(self.proposal.reviewers),
            "proposed_at": moment(self.proposed_at),
            "escalate_at": moment(self.proposal.escalate_at),
            "escalated_at": moment(self.escalated_at),
            "outcome": self.outcome,
            "reason": self.reason,
            "decided_by": self.decided_by,
            "decided_at": moment(self.decided_at),
        }


class ReviewStore(Protocol):
    async def items(
        self, *, reviewer: str | None, state: ReviewState | None, limit: int
    ) -> list[ReviewItem]:
        """Proposals (those `reviewer` may decide; every one with None) in `state` (any with
        None), oldest first, at most `limit`."""
        ...

    async def item(self, proposal_id: str) -> ReviewItem | None: ...

    async def decide(
        self,
        proposal_id: str,
        outcome: ReviewOutcome,
        reason: str,
        *,
        actor: str,
        agency: str,
        at: datetime,
    ) -> bool:
        """Record the decision, and for an approval the disclosure in the recipient's feed, in
        one transaction; False (nothing written) when the proposal was already decided."""
        ...

    async def due(self, now: datetime, limit: int) -> list[Proposal]:
        """Undecided, unescalated proposals whose escalation time passed before `now`."""
        ...

    async def escalate(self, proposal: Proposal, at: datetime) -> bool:
        """Record and log the escalation, unless it already is; whether this call did."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class ReviewService:
    """The review list and decisions, for reviewers (by agency) and operators."""

    def __init__(self, store: ReviewStore, *, clock: Callable[[], datetime] = _now) -> None:
        self._store = store
        self._clock = clock

    async def list(
        self,
        agency: str | None,
        *,
        state: ReviewState | None = None,
        limit: int = 100,
    ) -> list[ReviewItem]:
        """The proposals `agency` reviews (None: every one, for an operator)."""
        if state is not None and state not in STATES:
            raise InvalidInput(f"unknown review state {state!r}; states: {', '.join(STATES)}")
        if not 1 <= limit <= 1000:
            raise InvalidInput(f"limit must be between 1 and 1000, not {limit}")
        return await self._store.items(reviewer=agency, state=state, limit=limit)

    async def decide(
        self,
        proposal_id: str,
        outcome: ReviewOutcome,
        reason: str,
        *,
        actor: str,
        agency: str,
        operator: bool = False,
    ) -> ReviewItem:
        """Approve or decline `proposal_id` as `actor` acting for `agency`, with a reason: only
        if `agency` is one of its reviewers, unless an `operator` decides (the CLI)."""
        text = review_reason(reason)
        found = await self._store.item(proposal_id)
        if found is None or (not operator and agency not in found.proposal.reviewers):
            # A proposal another agency reviews is not shown to exist.
            raise NotFound(f"no proposal {proposal_id} for {agency} to review")
        if found.outcome is not None:
            raise Conflict(
                f"proposal {proposal_id} was already {found.outcome} by {found.decided_by}"
            )
        at = self._clock()
        if not await self._store.decide(
            proposal_id, outcome, text, actor=actor, agency=agency, at=at
        ):
            raise Conflict(f"proposal {proposal_id} was decided meanwhile")
        logger.info("proposal %s %s by %s (%s)", proposal_id, outcome, actor, agency)
        decided = await self._store.item(proposal_id)
        assert decided is not None
        return decided


class ReviewEscalator:
    """Escalates each undecided proposal once its rule's `escalate_after` has passed: the
    escalation is recorded, logged in the audit trail and shown in the review list."""

    def __init__(
        self,
        store: ReviewStore,
        *,
        interval: float = 30.0,
        batch_size: int = 100,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if interval <= 0:
            raise InvalidInput(f"interval must be positive, not {interval}")
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        self._store = store
        self._interval = interval
        self._batch_size = batch_size
        self._clock = clock

    async def run_once(self) -> int:
        """Escalate the proposals due now; how many this call escalated."""
        now = self._clock()
        due: Sequence[Proposal] = await self._store.due(now, self._batch_size)
        escalated = 0
        for proposal in due:
            if await self._store.escalate(proposal, now):
                escalated += 1
                logger.warning(
                    "proposal %s to %s undecided since %s: escalated (reviewers: %s)",
                    proposal.proposal_id,
                    proposal.disclosure.recipient_id,
                    proposal.disclosure.decided_at.isoformat(),
                    ", ".join(proposal.reviewers) or "none in the directory",
                )
        return escalated

    def loop(self) -> WorkerLoop:
        """This escalator in the worker loop, looking every `interval` seconds."""
        return WorkerLoop("review-escalation", self.run_once, idle_seconds=self._interval)
