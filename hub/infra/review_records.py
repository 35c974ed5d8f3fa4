"""Proposed disclosures written by the router, in its batch's transaction
(`hub.infra.routing`): the `disclosure_proposals` rows, their reviewers (`proposal_reviewers`)
and their audit entries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from hub.domain.audit import reviews as review_records
from hub.domain.reviews import Proposal, disclosure_document
from hub.infra.audit import SqlAuditLog
from hub.infra.tables import disclosure_proposals, proposal_reviewers

__all__ = ["proposal_row", "record_proposals"]


def proposal_row(proposal: Proposal, now: datetime) -> dict[str, Any]:
    d = proposal.disclosure
    return {
        "proposal_id": proposal.proposal_id,
        "disclosure_id": d.disclosure_id,
        "event_position": d.event_position,
        "event_id": d.event_id,
        "source": d.source,
        "event_type": d.event_type,
        "person_id": d.person_id,
        "recipient_id": d.recipient_id,
        "rules": list(proposal.rules),
        "reviewers": list(proposal.reviewers),
        "disclosure": disclosure_document(d),
        "proposed_at": now.astimezone(UTC),
        "escalate_at": None
        if proposal.escalate_at is None
        else proposal.escalate_at.astimezone(UTC),
    }


async def record_proposals(
    connection: AsyncConnection,
    audit: SqlAuditLog,
    proposals: Sequence[Proposal],
    now: datetime,
) -> None:
    """Record `proposals` and log each, inside the caller's transaction."""
    if not proposals:
        return
    rows = [proposal_row(p, now) for p in proposals]
    await connection.execute(disclosure_proposals.insert(), rows)
    await connection.execute(
        proposal_reviewers.insert(),
        [
            {
                "reviewer": reviewer,
                "proposed_at": row["proposed_at"],
                "proposal_id": row["proposal_id"],
            }
            for row in rows
            for reviewer in row["reviewers"]
        ],
    )
    await audit.append(
        connection,
        [review_records.proposed(p, row) for p, row in zip(proposals, rows, strict=True)],
    )
