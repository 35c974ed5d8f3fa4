"""What case-by-case review writes to the audit trail: a proposal recorded (held, not
delivered), a reviewer's approval or decline, and an escalation. Like every entry, metadata only:
the reviewer's reason is free text that may hold personal data, so it stays with the decision
(`review_decisions`), bound by the row's digest, and is not copied into the entry."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from hub.domain.audit.builders import HUB_ACTOR
from hub.domain.audit.entries import AuditEntry, AuditKind, JsonValue
from hub.domain.audit.evidence import row_evidence
from hub.domain.reviews import Proposal

__all__ = ["PROPOSED", "proposal_decided", "proposal_escalated", "proposed"]

#: The outcome of a proposal's entry (a disclosure decided, held for review).
PROPOSED = "proposed"


def _about(proposal: Proposal) -> dict[str, Any]:
    d = proposal.disclosure
    return {
        "person_id": d.person_id,
        "event_id": d.event_id,
        "source": d.source,
        "recipient_id": d.recipient_id,
        "policy_version": d.policy_version,
    }


def proposed(proposal: Proposal, row: Mapping[str, Any]) -> AuditEntry:
    """The router decided a recipient may receive these fields, subject to review: held."""
    d = proposal.disclosure
    details: dict[str, JsonValue] = {
        "proposal_id": proposal.proposal_id,
        "disclosure_id": d.disclosure_id,
        "event_type": d.event_type,
        "event_position": d.event_position,
        "trigger_position": d.trigger_position,
        "reviewers": list(proposal.reviewers),
        "review_rules": list(proposal.rules),
    }
    if proposal.escalate_at is not None:
        details["escalate_at"] = proposal.escalate_at.isoformat()
    details |= row_evidence(row).as_details()
    return AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=d.decided_at,
        actor=HUB_ACTOR,
        agency=HUB_ACTOR,
        fields=d.fields,
        rules=d.rules,
        purpose="; ".join(sorted(set(d.purposes)))[:512] or None,
        legal_basis="; ".join(sorted(set(d.legal_bases)))[:512] or None,
        outcome=PROPOSED,
        details=details,
        **_about(proposal),
    )


def proposal_decided(
    proposal: Proposal,
    row: Mapping[str, Any],
    *,
    actor: str,
    agency: str,
) -> AuditEntry:
    """A reviewer approved or declined a proposal (`row`: the review_decisions row)."""
    outcome = str(row["outcome"])
    details: dict[str, JsonValue] = {
        "proposal_id": proposal.proposal_id,
        "disclosure_id": proposal.disclosure.disclosure_id,
        "event_type": proposal.disclosure.event_type,
    }
    details |= row_evidence(row).as_details()
    return AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=row["decided_at"],
        actor=actor,
        agency=agency,
        rules=proposal.rules,
        outcome=f"review-{outcome}",
        details=details,
        **_about(proposal),
    )


def proposal_escalated(proposal: Proposal, at: datetime) -> AuditEntry:
    """An undecided proposal passed its rule's `escalate_after`."""
    return AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=at,
        actor=HUB_ACTOR,
        agency=HUB_ACTOR,
        rules=proposal.rules,
        outcome="review-escalated",
        details={
            "proposal_id": proposal.proposal_id,
            "disclosure_id": proposal.disclosure.disclosure_id,
            "event_type": proposal.disclosure.event_type,
            "reviewers": list(proposal.reviewers),
        },
        **_about(proposal),
    )
