"""Proposals, review decisions and escalations on PostgreSQL or SQLite:
`hub.services.reviews.ReviewStore`.

A decision is one insert into `review_decisions`, keyed by the proposal: of two reviewers
deciding at once, the second inserts nothing and writes nothing else. An approval records the
disclosure through the routing store (`SqlRoutingStore.disclose`: its row, its feed number, its
webhook jobs, its audit entry) in the decision's transaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.domain.audit import reviews as review_records
from hub.domain.reviews import Proposal, ReviewOutcome, disclosure_from_document
from hub.infra.audit import SqlAuditLog
from hub.infra.routing import SqlRoutingStore
from hub.infra.sqltools import Database, at, utc
from hub.infra.tables import (
    disclosure_proposals,
    proposal_reviewers,
    review_decisions,
    review_escalations,
)
from hub.services.reviews import ReviewItem, ReviewState

__all__ = ["SqlReviewStore"]

_P, _D, _X, _R = disclosure_proposals, review_decisions, review_escalations, proposal_reviewers


class SqlReviewStore:
    """`ReviewStore` on the hub's database (either backend)."""

    def __init__(
        self, engine: AsyncEngine, *, routing: SqlRoutingStore, audit: SqlAuditLog
    ) -> None:
        self._db = Database(engine, "review store")
        self._routing = routing
        self._audit = audit

    # -- reading ---------------------------------------------------------------------------------

    def _query(self) -> sa.Select[Any]:
        return sa.select(
            _P,
            _X.c.escalated_at,
            _D.c.outcome,
            _D.c.reason,
            _D.c.decided_by,
            _D.c.decided_at.label("review_decided_at"),
        ).select_from(
            _P.outerjoin(_D, _D.c.proposal_id == _P.c.proposal_id).outerjoin(
                _X, _X.c.proposal_id == _P.c.proposal_id
            )
        )

    async def items(
        self, *, reviewer: str | None, state: ReviewState | None, limit: int
    ) -> list[ReviewItem]:
        query = self._query().order_by(_P.c.proposed_at, _P.c.proposal_id).limit(limit)
        if reviewer is not None:
            query = query.where(
                _P.c.proposal_id.in_(sa.select(_R.c.proposal_id).where(_R.c.reviewer == reviewer))
            )
        if state in ("approved", "declined"):
            query = query.where(_D.c.outcome == state)
        elif state == "pending":
            query = query.where(_D.c.outcome.is_(None), _X.c.escalated_at.is_(None))
        elif state == "escalated":
            query = query.where(_D.c.outcome.is_(None), _X.c.escalated_at.is_not(None))
        async with self._db.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_item(row) for row in rows]

    async def item(self, proposal_id: str) -> ReviewItem | None:
        query = self._query().where(_P.c.proposal_id == proposal_id)
        async with self._db.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        return None if row is None else _item(row)

    async def due(self, now: datetime, limit: int) -> list[Proposal]:
        query = (
            self._query()
            .where(
                _P.c.escalate_at.is_not(None),
                _P.c.escalate_at <= at(now),
                _D.c.outcome.is_(None),
                _X.c.escalated_at.is_(None),
            )
            .order_by(_P.c.escalate_at, _P.c.proposal_id)
            .limit(limit)
        )
        async with self._db.connect() as connection:
            rows = (await connection.execute(query)).mappings().all()
        return [_item(row).proposal for row in rows]

    # -- writing ---------------------------------------------------------------------------------

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
        decided_at = at.astimezone(UTC)
        async with self._db.connect(write=True) as connection, connection.begin():
            row = (
                (await connection.execute(sa.select(_P).where(_P.c.proposal_id == proposal_id)))
                .mappings()
                .first()
            )
            if row is None:
                return False
            proposal = _proposal(dict(row))
            decision = {
                "proposal_id": proposal_id,
                "event_id": row["event_id"],
                "outcome": outcome,
                "reason": reason,
                "decided_by": actor,
                "agency": agency,
                "decided_at": decided_at,
            }
            inserted = await connection.execute(
                self._db.insert(_D)
                .values(decision)
                .on_conflict_do_nothing(index_elements=[_D.c.proposal_id])
                .returning(_D.c.proposal_id)
            )
            if inserted.first() is None:
                return False
            await self._audit.append(
                connection,
                [review_records.proposal_decided(proposal, decision, actor=actor, agency=agency)],
            )
            if outcome == "approved":
                await self._routing.disclose(
                    connection, [proposal.approved(decided_at)], decided_at
                )
        return True

    async def escalate(self, proposal: Proposal, at: datetime) -> bool:
        statement = (
            self._db.insert(_X)
            .values(proposal_id=proposal.proposal_id, escalated_at=at.astimezone(UTC))
            .on_conflict_do_nothing(index_elements=[_X.c.proposal_id])
            .returning(_X.c.proposal_id)
        )
        async with self._db.connect(write=True) as connection, connection.begin():
            if (await connection.execute(statement)).first() is None:
                return False
            await self._audit.append(connection, [review_records.proposal_escalated(proposal, at)])
        return True


def _proposal(row: Mapping[str, Any]) -> Proposal:
    escalate_at = row["escalate_at"]
    return Proposal(
        disclosure=disclosure_from_document(row["disclosure"]),
        rules=tuple(row["rules"]),
        reviewers=tuple(row["reviewers"]),
        escalate_at=None if escalate_at is None else utc(escalate_at),
    )


def _item(row: Mapping[str, Any]) -> ReviewItem:
    escalated, decided = row["escalated_at"], row["review_decided_at"]
    return ReviewItem(
        proposal=_proposal(row),
        proposed_at=utc(row["proposed_at"]),
        escalated_at=None if escalated is None else utc(escalated),
        outcome=row["outcome"],
        reason=row["reason"],
        decided_by=row["decided_by"],
        decided_at=None if decided is None else utc(decided),
    )
