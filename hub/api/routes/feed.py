"""The pull feed, `GET /v1/feed`, and its streaming variant, `GET /v1/feed/stream` (Server-Sent
Events): what was disclosed to the caller's agency, in its feed's gap-free numbering."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query
from pydantic import BaseModel, Field
from sse_starlette import EventSourceResponse, ServerSentEvent

from hub.api.deps import (
    ContainerDep,
    FeedReader,
    NotificationVersion,
    Purpose,
    StreamsDep,
    principal,
)
from hub.api.openapi import problems
from hub.api.streams import SlotReleasingResponse
from hub.services.feed import (
    CLOUDEVENT_NOTIFICATION,
    MAX_PAGE_SIZE,
    FeedItem,
    Heartbeat,
    StreamEnded,
)

router = APIRouter(prefix="/v1/feed", tags=["feed"])

FEED_PROBLEMS = {
    400: "X-Purpose is not one line of printable UTF-8 text",
    403: "The token lacks the scope feed:read",
}
PROBLEMS = problems(FEED_PROBLEMS)
STREAM_PROBLEMS = problems(
    FEED_PROBLEMS
    | {
        429: "Too many requests, or the client already holds HUB_FEED_MAX_STREAMS_PER_CLIENT "
        "streams; wait for `Retry-After` seconds"
    }
)


class FeedItemModel(BaseModel):
    """One disclosure to the caller: the notification with only the fields it was granted."""

    seq: int = Field(description="Its number in the caller's feed: 1, 2, 3 … with no gaps")
    disclosure_id: str = Field(description="The disclosure's id: acknowledge it with this")
    event_type: str
    person_id: str = Field(description="The hub's reference for the person it is about")
    fields: list[str] = Field(description="The notification fields the caller was granted")
    purposes: list[str] = Field(description="What the caller may use it for")
    legal_bases: list[str] = Field(description="The law that allows the disclosure")
    rules: list[str] = Field(description="The sharing rules that granted it")
    policy_version: str = Field(description="The version of the policy bundle that decided it")
    decided_at: datetime
    acknowledge_by: datetime | None = Field(
        description="When the caller must acknowledge it by; null when no rule sets a time"
    )
    notification: dict[str, Any] = Field(
        description="The notification (version 2, the default) as a CloudEvents 1.0 "
        "structured event with only the "
        "granted fields: always `specversion`, `id`, `source` (the publisher's when granted, "
        "else `urn:pph:hub:event:<n>`), `type`, `datacontenttype`, `dataschema`; each granted "
        "identifier as a string extension `pph<scheme>` (`pphpncid`, `pphspsnumber`…); "
        "with `notification_version=1`, the redacted envelope as pushed, identifiers as one "
        "`identifiers` object; docs/cloudevents.md"
    )

    @classmethod
    def of(cls, item: FeedItem) -> FeedItemModel:
        return cls.model_validate(item.to_json())


class FeedPageModel(BaseModel):
    items: list[FeedItemModel]
    next_after: int = Field(description="Pass as `after` for the next page")
    last_seq: int = Field(
        description="The caller's highest number now: caught up when next_after equals it"
    )


@router.get("", response_model=FeedPageModel, operation_id="readFeed", responses=PROBLEMS)
async def read_feed(
    container: ContainerDep,
    caller: FeedReader,
    purpose: Purpose,
    # At most the largest database integer: a larger one would overflow the query (a 500).
    after: Annotated[
        int, Query(ge=0, le=2**63 - 1, description="The last number already read")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    notification_version: NotificationVersion = CLOUDEVENT_NOTIFICATION,
) -> FeedPageModel:
    """The disclosures to the caller's agency numbered above `after`, in order. Reading one
    for the first time records that it reached the caller."""
    page = await container.feed.page(
        caller.agency,
        after=after,
        limit=limit,
        reader=principal(caller),
        purpose=purpose,
        notification_version=notification_version,
    )
    return FeedPageModel(
        items=[FeedItemModel.of(item) for item in page.items],
        next_after=page.next_after,
        last_seq=page.last_seq,
    )


@router.get(
    "/stream",
    response_class=EventSourceResponse,
    operation_id="streamFeed",
    responses={
        200: {
            "description": "Server-Sent Events: `disclosure` (data: a feed item), `end`",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        **STREAM_PROBLEMS,
    },
)
async def stream_feed(
    container: ContainerDep,
    streams: StreamsDep,
    caller: FeedReader,
    purpose: Purpose,
    after: Annotated[
        int | None,
        Query(ge=0, le=2**63 - 1, description="The last number already read (default 0)"),
    ] = None,
    last_event_id: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=2**63 - 1,
            description="Sent by an EventSource when it reconnects; wins over `after`",
        ),
    ] = None,
    notification_version: NotificationVersion = CLOUDEVENT_NOTIFICATION,
) -> EventSourceResponse:
    """Server-Sent Events: each disclosure numbered above the cursor as `event: disclosure`
    with `id:` its number and the feed item as `data:`, now and as they are decided; a comment
    line `: heartbeat <time>` when nothing has been sent for `HUB_FEED_HEARTBEAT_SECONDS`. A
    client that reconnects with `Last-Event-ID` (or `?after=`) resumes after the last number it
    received, so nothing is missed or repeated.

    The stream ends, with a last `event: end` whose data says why (`{"reason":
    "token-expired"|"client-disabled"|…, "detail": …}`), when the token expires and soon after
    the client is disabled or loses `feed:read`. One client may hold
    `HUB_FEED_MAX_STREAMS_PER_CLIENT` streams at once; one more is refused (429, Retry-After)."""
    # An EventSource reconnecting sends Last-Event-ID to the URL it first opened, `after` and
    # all: the header is the newer cursor.
    cursor = last_event_id if last_event_id is not None else after or 0
    slot = streams.slots.acquire(caller.client_id)
    try:
        messages = container.feed.stream(
            caller.agency,
            reader=principal(caller),
            purpose=purpose,
            after=cursor,
            heartbeat_seconds=container.settings.feed_heartbeat_seconds,
            guard=streams.guards.guard(caller),
            notification_version=notification_version,
        )

        async def events() -> AsyncIterator[ServerSentEvent]:
            async for message in messages:
                if isinstance(message, Heartbeat):
                    yield ServerSentEvent(comment=f"heartbeat {message.at.isoformat()}")
                elif isinstance(message, StreamEnded):
                    yield ServerSentEvent(
                        data=json.dumps({"reason": message.reason, "detail": message.detail}),
                        event="end",
                    )
                else:
                    yield ServerSentEvent(
                        data=FeedItemModel.of(message).model_dump_json(),
                        event="disclosure",
                        id=str(message.seq),
                    )

        # Heartbeats come from the feed service (ping=0): it knows when the feed was quiet.
        return SlotReleasingResponse(events(), ping=0, sep="\n", slot=slot)
    except BaseException:
        slot.release()
        raise
