"""Case-by-case review, `/v1/reviews`: the proposed disclosures a reviewer of the disclosing side
must approve or decline before the recipient receives them (scope `reviews:decide`, bound to the
caller's directory agency: a proposal another agency reviews is not found)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from hub.api.body import parse_body, read_json
from hub.api.deps import ContainerDep
from hub.api.openapi import json_body, problems
from hub.api.security import Caller, require_scopes
from hub.domain.reviews import MAX_REASON_LENGTH, ReviewOutcome
from hub.services.reviews import ReviewItem, ReviewState

router = APIRouter(prefix="/v1/reviews", tags=["reviews"])

Reviewer = Annotated[Caller, Depends(require_scopes("reviews:decide"))]

FORBIDDEN = {403: "The token lacks the scope reviews:decide"}
PROBLEMS = problems(FORBIDDEN)
DECIDE_PROBLEMS = problems(
    FORBIDDEN
    | {
        400: "Not strict JSON",
        422: "The body or a parameter is invalid (a reason is required)",
        404: "No such proposal for the caller's agency to review",
        409: "The proposal was already decided",
        413: "The body is too large",
        415: "The body is not JSON",
    }
)


class ReviewModel(BaseModel):
    """A proposed disclosure: what would be disclosed, to whom, why, and what became of it."""

    proposal_id: str
    disclosure_id: str = Field(description="The disclosure's id once approved")
    state: ReviewState
    recipient_id: str
    person_id: str
    event_id: str
    event_type: str
    fields: list[str] = Field(description="The notification fields it would disclose")
    rules: list[str]
    review_rules: list[str] = Field(description="The rules that require review")
    purposes: list[str]
    legal_bases: list[str]
    reviewers: list[str] = Field(description="The agencies that may decide it")
    proposed_at: datetime
    escalate_at: datetime | None
    escalated_at: datetime | None
    outcome: ReviewOutcome | None
    reason: str | None
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, item: ReviewItem) -> ReviewModel:
        return cls.model_validate(item.to_json())


class ReviewList(BaseModel):
    reviews: list[ReviewModel]


class ReviewDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=MAX_REASON_LENGTH, description="Why")


def _json_body() -> dict[str, Any]:
    return json_body(ReviewDecision.model_json_schema())


@router.get("", response_model=ReviewList, operation_id="listReviews", responses=PROBLEMS)
async def list_reviews(
    container: ContainerDep,
    caller: Reviewer,
    state: Annotated[ReviewState | None, Query(description="Only those in this state")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ReviewList:
    """The proposals the caller's agency reviews, oldest first."""
    items = await container.reviews.list(caller.agency, state=state, limit=limit)
    return ReviewList(reviews=[ReviewModel.of(i) for i in items])


async def _decide(
    request: Request,
    container: ContainerDep,
    caller: Caller,
    proposal_id: str,
    outcome: Literal["approved", "declined"],
) -> ReviewModel:
    raw = await read_json(request, container.settings.max_request_bytes)
    body = parse_body(ReviewDecision, raw)
    item = await container.reviews.decide(
        proposal_id, outcome, body.reason, actor=caller.client_id, agency=caller.agency
    )
    return ReviewModel.of(item)


@router.post(
    "/{proposal_id}/approve",
    response_model=ReviewModel,
    operation_id="approveReview",
    responses=DECIDE_PROBLEMS,
    openapi_extra=_json_body(),
)
async def approve_review(
    proposal_id: str, request: Request, container: ContainerDep, caller: Reviewer
) -> ReviewModel:
    """Approve a proposal, with a reason: the disclosure enters the recipient's feed (and its
    webhooks and Kafka channel) now, after everything already in it."""
    return await _decide(request, container, caller, proposal_id, "approved")


@router.post(
    "/{proposal_id}/decline",
    response_model=ReviewModel,
    operation_id="declineReview",
    responses=DECIDE_PROBLEMS,
    openapi_extra=_json_body(),
)
async def decline_review(
    proposal_id: str, request: Request, container: ContainerDep, caller: Reviewer
) -> ReviewModel:
    """Decline a proposal, with a reason: the recipient never receives it."""
    return await _decide(request, container, caller, proposal_id, "declined")
