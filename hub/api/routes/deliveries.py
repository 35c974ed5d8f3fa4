"""Webhook deliveries: `/v1/deliveries`, to see dead letters and replay them. A recipient (scope
`subscriptions:manage`) sees its own; an operator (scope `admin`) sees every recipient's."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Security
from pydantic import BaseModel, Field

from hub.api.deps import ContainerDep
from hub.api.openapi import ANY_OF_SECURITY, problems
from hub.api.security import Caller, authenticated_caller
from hub.errors import PermissionDenied
from hub.services.audit_queries import Principal
from hub.services.delivery import Delivery, DeliveryAttempt

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])

FORBIDDEN = {403: "The token lacks subscriptions:manage and admin"}
NOT_FOUND = {404: "No such delivery the caller may see"}
#: Either scope will do: this replaces FastAPI's own requirement, both scopes at once.
EITHER_SCOPE: dict[str, Any] = {
    ANY_OF_SECURITY: [{"agency_client": ["subscriptions:manage"]}, {"agency_client": ["admin"]}]
}


async def delivery_viewer(
    caller: Caller = Security(  # noqa: B008
        authenticated_caller, scopes=["subscriptions:manage", "admin"]
    ),
) -> str | None:
    """Whose deliveries the caller may see: its agency's (`subscriptions:manage`), or with
    `admin` everyone's (None)."""
    if "admin" in caller.scopes:
        return None
    if "subscriptions:manage" in caller.scopes:
        return caller.agency
    raise PermissionDenied(
        "this needs the scope subscriptions:manage or admin, which the token lacks"
    )


Viewer = Annotated[str | None, Depends(delivery_viewer)]


async def delivery_actor(
    caller: Caller = Security(  # noqa: B008
        authenticated_caller, scopes=["subscriptions:manage", "admin"]
    ),
) -> Principal:
    """Who asks for a replay, for the audit trail: the caller's client and agency."""
    return Principal(caller.client_id, caller.agency)


Actor = Annotated[Principal, Depends(delivery_actor)]


class DeliveryView(BaseModel):
    """A webhook job. `disclosure_id` is the `webhook-id` every attempt is sent with."""

    id: str
    disclosure_id: str
    subscription_id: str
    recipient_id: str
    status: str = Field(description="pending, delivered, dead or cancelled")
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def of(cls, delivery: Delivery) -> DeliveryView:
        return cls(
            id=delivery.delivery_id,
            disclosure_id=delivery.disclosure_id,
            subscription_id=delivery.subscription_id,
            recipient_id=delivery.recipient_id,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_error=delivery.last_error,
            created_at=delivery.created_at,
            delivered_at=delivery.delivered_at,
        )


class AttemptView(BaseModel):
    attempt: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: float | None
    outcome: str = Field(description="delivered, retry, dead or disabled (410 Gone)")
    error: str | None

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> AttemptView:
        return cls(
            attempt=attempt.attempt,
            attempted_at=attempt.attempted_at,
            status_code=attempt.status_code,
            latency_ms=attempt.latency_ms,
            outcome=attempt.outcome,
            error=attempt.error,
        )


class DeliveryWithAttempts(DeliveryView):
    history: list[AttemptView] = Field(description="Every attempt, in order")


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
    next_after: str | None = Field(
        description="Pass as `after` for the next page; null when this page is the last"
    )


@router.get(
    "",
    response_model=DeliveryList,
    operation_id="listDeliveries",
    responses=problems(FORBIDDEN),
    openapi_extra=EITHER_SCOPE,
)
async def list_deliveries(
    container: ContainerDep,
    viewer: Viewer,
    status: Annotated[
        str | None, Query(description="pending, delivered, dead or cancelled")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    after: Annotated[str | None, Query(description="The last id of the previous page")] = None,
) -> DeliveryList:
    """Deliveries oldest first: `?status=dead` lists the dead letters."""
    found = await container.deliveries.find(viewer, status=status, limit=limit + 1, after=after)
    page = found[:limit]
    return DeliveryList(
        deliveries=[DeliveryView.of(d) for d in page],
        next_after=page[-1].delivery_id if len(found) > limit else None,
    )


@router.get(
    "/{delivery_id}",
    response_model=DeliveryWithAttempts,
    operation_id="getDelivery",
    responses=problems(FORBIDDEN | NOT_FOUND),
    openapi_extra=EITHER_SCOPE,
)
async def get_delivery(
    delivery_id: str, container: ContainerDep, viewer: Viewer
) -> DeliveryWithAttempts:
    """A delivery with every attempt made at it."""
    delivery, attempts = await container.deliveries.get(viewer, delivery_id)
    return DeliveryWithAttempts(
        **DeliveryView.of(delivery).model_dump(), history=[AttemptView.of(a) for a in attempts]
    )


@router.post(
    "/{delivery_id}/replay",
    response_model=DeliveryView,
    operation_id="replayDelivery",
    responses=problems(
        FORBIDDEN | NOT_FOUND | {409: "Not dead or cancelled, or its subscription is not active"}
    ),
    openapi_extra=EITHER_SCOPE,
)
async def replay_delivery(
    delivery_id: str, container: ContainerDep, viewer: Viewer, actor: Actor
) -> DeliveryView:
    """Send a dead or cancelled delivery again, now, with the same `webhook-id`. Its attempts
    are kept: past the retry schedule, a replay is a single attempt (dead again if it fails).
    The audit trail records the replay under the caller's client, in the same transaction."""
    return DeliveryView.of(await container.deliveries.replay(viewer, delivery_id, actor))
