"""The co-ordinator's review queue: the proposed disclosures their region reviews (the same
`ReviewService.list` `/v1/reviews` calls, bound to the region as the API binds a client to its
agency) and the approve or decline of one, with a reason — the same `ReviewService.decide` and
audit entry as `/v1/reviews/{id}/approve|decline`, with the co-ordinator as the actor."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response

from hub.api.console.dpo_pages import Text, forged
from hub.api.console.mappa_access import coordinator_or_answer
from hub.api.console.officer import principal_of
from hub.api.console.rendering import page
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, csrf_matches
from hub.api.deps import ContainerDep
from hub.bootstrap import Container
from hub.domain.reviews import MAX_REASON_LENGTH, review_reason
from hub.errors import Conflict, InvalidInput, NotFound
from hub.services.reviews import ReviewItem

router = APIRouter(include_in_schema=False)

OUTCOMES: dict[str, Literal["approved", "declined"]] = {
    "approve": "approved",
    "decline": "declined",
}


async def _queue(
    request: Request,
    console: Console,
    container: Container,
    coordinator: ConsoleSession,
    region: str,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    failed: str | None = None,
    reason: str = "",
    decided: ReviewItem | None = None,
) -> Response:
    items = await container.reviews.list(region, limit=1000)
    waiting = [i for i in items if i.outcome is None]
    return page(
        request,
        console,
        "mappa_reviews.html",
        status_code=status_code,
        person=coordinator.person,
        csrf_token=coordinator.csrf_token,
        region=region,
        waiting=waiting,
        names={r.id: r.name for r in container.policy.directory.recipients.values()},
        errors=errors or {},
        failed=failed,
        reason=reason,
        decided=decided,
        max_reason=MAX_REASON_LENGTH,
    )


@router.get("/console/mappa/{region}/reviews", name="console_mappa_reviews")
async def review_queue(region: str, request: Request, container: ContainerDep) -> Response:
    """The proposals awaiting the region's decision, oldest first (escalated ones marked)."""
    console, coordinator = coordinator_or_answer(request, region)
    if isinstance(coordinator, Response):
        return coordinator
    return await _queue(request, console, container, coordinator, region)


@router.post("/console/mappa/{region}/reviews/{proposal_id}", name="console_mappa_decide")
async def decide(
    region: str,
    proposal_id: str,
    request: Request,
    container: ContainerDep,
    decision: Text = "",
    reason: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Approve or decline `proposal_id` for the region, with a reason, as the co-ordinator."""
    console, coordinator = coordinator_or_answer(request, region)
    if isinstance(coordinator, Response):
        return coordinator
    if not csrf_matches(coordinator, csrf_token):
        return forged(request, console)
    errors: dict[str, str] = {}
    outcome = OUTCOMES.get(decision)
    if outcome is None:
        errors["decision"] = "Choose approve or decline"
    try:
        review_reason(reason)
    except InvalidInput as error:
        errors["reason"] = str(error).replace("a review", "A review", 1)
    if errors or outcome is None:
        return await _queue(
            request,
            console,
            container,
            coordinator,
            region,
            status_code=400,
            errors=errors,
            failed=proposal_id,
            reason=reason,
        )
    principal = principal_of(coordinator.person)
    try:
        item = await container.reviews.decide(
            proposal_id, outcome, reason, actor=principal.client_id, agency=region
        )
    except (NotFound, Conflict) as error:
        return await _queue(
            request,
            console,
            container,
            coordinator,
            region,
            status_code=404 if isinstance(error, NotFound) else 409,
            errors={"proposal": str(error)},
            failed=proposal_id,
        )
    return await _queue(request, console, container, coordinator, region, decided=item)
