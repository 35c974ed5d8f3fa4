"""One disclosure to the caller, `GET /v1/disclosures/{id}`, and its acknowledgement,
`POST /v1/disclosures/{id}/ack`. A disclosure made to another agency is not found."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from hub.api.deps import ContainerDep, FeedReader, NotificationVersion, Purpose, principal
from hub.api.openapi import problems
from hub.api.routes.feed import FEED_PROBLEMS, FeedItemModel
from hub.services.feed import CLOUDEVENT_NOTIFICATION, Acknowledgement
from hub.services.latency import DisclosureTimes

router = APIRouter(prefix="/v1/disclosures", tags=["disclosures"])

NOT_FOUND = {404: "No such disclosure was made to the caller's agency"}
PROBLEMS = problems(FEED_PROBLEMS | NOT_FOUND)
ACK_PROBLEMS = problems({403: FEED_PROBLEMS[403]} | NOT_FOUND)


class LatencyModel(BaseModel):
    """How long each step took, in seconds; null for a step not reached yet."""

    event_to_decision: float = Field(description="From the occurrence (its `time`) to decision")
    intake_to_decision: float = Field(description="From the hub storing it to decision")
    decision_to_delivery: float | None
    decision_to_acknowledgement: float | None

    @classmethod
    def of(cls, times: DisclosureTimes) -> LatencyModel:
        return cls(
            event_to_decision=times.event_to_decision.total_seconds(),
            intake_to_decision=times.intake_to_decision.total_seconds(),
            decision_to_delivery=_seconds(times.decision_to_delivery),
            decision_to_acknowledgement=_seconds(times.decision_to_acknowledgement),
        )


class DisclosureModel(FeedItemModel):
    """A disclosure, with how far it has got: delivered, acknowledged, escalated."""

    first_delivered_at: datetime | None
    delivery_channel: str | None = Field(description="feed, stream, api or webhook")
    acknowledged_at: datetime | None
    escalated_at: datetime | None = Field(
        description="When the hub escalated it as not acknowledged in time (disclosure.overdue)"
    )
    latency_seconds: LatencyModel


class AcknowledgementModel(BaseModel):
    disclosure_id: str
    acknowledged_at: datetime = Field(description="When it was first acknowledged")
    client_id: str = Field(description="The client that first acknowledged it")
    acknowledge_by: datetime | None
    on_time: bool | None = Field(description="Acknowledged by `acknowledge_by`; null if no time")
    duplicate: bool = Field(description="True when it had been acknowledged already")

    @classmethod
    def of(cls, acknowledgement: Acknowledgement) -> AcknowledgementModel:
        return cls(
            disclosure_id=acknowledgement.disclosure_id,
            acknowledged_at=acknowledgement.acknowledged_at,
            client_id=acknowledgement.client_id,
            acknowledge_by=acknowledgement.acknowledge_by,
            on_time=acknowledgement.on_time,
            duplicate=not acknowledgement.recorded,
        )


@router.get(
    "/{disclosure_id}",
    response_model=DisclosureModel,
    operation_id="getDisclosure",
    responses=PROBLEMS,
)
async def get_disclosure(
    disclosure_id: str,
    container: ContainerDep,
    caller: FeedReader,
    purpose: Purpose,
    notification_version: NotificationVersion = CLOUDEVENT_NOTIFICATION,
) -> DisclosureModel:
    """A disclosure to the caller's agency: the redacted notification, why it was shared, and
    its delivery, acknowledgement and latency. Reading it records that it reached the caller."""
    item = await container.feed.disclosure(
        caller.agency,
        disclosure_id,
        reader=principal(caller),
        purpose=purpose,
        notification_version=notification_version,
    )
    times = await container.latency.of_disclosure(caller.agency, disclosure_id)
    return DisclosureModel(
        **FeedItemModel.of(item).model_dump(),
        first_delivered_at=times.first_delivered_at,
        delivery_channel=times.delivery_channel,
        acknowledged_at=times.acknowledged_at,
        escalated_at=times.escalated_at,
        latency_seconds=LatencyModel.of(times),
    )


@router.post(
    "/{disclosure_id}/ack",
    status_code=201,
    response_model=AcknowledgementModel,
    operation_id="acknowledgeDisclosure",
    responses={
        200: {
            "model": AcknowledgementModel,
            "description": "Already acknowledged; nothing changed",
        },
        **ACK_PROBLEMS,
    },
)
async def acknowledge_disclosure(
    disclosure_id: str, response: Response, container: ContainerDep, caller: FeedReader
) -> AcknowledgementModel:
    """Acknowledge a disclosure to the caller's agency: it was received and will be acted on.
    Acknowledging it again changes nothing and answers 200 with the first acknowledgement."""
    acknowledgement = await container.feed.acknowledge(
        caller.agency, disclosure_id, caller.client_id
    )
    if not acknowledgement.recorded:
        response.status_code = 200
    return AcknowledgementModel.of(acknowledgement)


def _seconds(value: timedelta | None) -> float | None:
    return None if value is None else value.total_seconds()
