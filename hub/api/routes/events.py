"""Notification intake: `POST /v1/events`, `POST /v1/events/batch`, `GET /v1/events/{id}`."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response

from hub.api.body import read_json
from hub.api.deps import ContainerDep, EventReader, Publisher, Purpose, principal
from hub.api.models import AcceptedBatch, AcceptedNotification, StoredNotification
from hub.api.openapi import NOTIFICATION_BATCH, PUSHED_NOTIFICATION, json_body, problems
from hub.domain import notifications
from hub.domain.audit.builders import Consulted, data_fields
from hub.errors import Conflict, NotFound

router = APIRouter(prefix="/v1/events", tags=["events"])

PUSH_PROBLEMS = {
    400: "Not strict JSON",
    403: "The token lacks events:publish, or a source is not the agency's (or is the hub's "
    "own, as for disclosure.overdue); nothing was stored",
    409: "Conflicts with what is stored (an id reused for other content, or an identifier "
    "conflict); nothing was stored",
    413: "The body is over the size limit",
    415: "The body is not JSON",
    422: "The notification is invalid or of an unknown type; `errors` names each field",
}
PROBLEMS = problems(PUSH_PROBLEMS)
BATCH_PROBLEMS = problems(
    PUSH_PROBLEMS
    | {
        400: "Not strict JSON, not a JSON array, empty, or more than HUB_MAX_BATCH_SIZE items",
        422: "An item is invalid: `errors` names the index and field of each; nothing was stored",
    }
)
#: `read_json` also takes the CloudEvents media types; declaring one media type keeps the body
#: of a generated client's call a single, required argument.
CLOUDEVENTS_TOO = (
    "Sent as application/json; application/cloudevents+json and "
    "application/cloudevents-batch+json are accepted too."
)
READ_PROBLEMS = problems(
    {
        400: "X-Purpose is not one line of printable UTF-8 text",
        404: "The caller's agency published no notification with this id",
        409: "The agency published several with this id from different sources: give ?source=",
    }
)


@router.post(
    "",
    status_code=201,
    response_model=AcceptedNotification,
    operation_id="publishNotification",
    responses={
        200: {"model": AcceptedNotification, "description": "Already stored; nothing changed"},
        201: {"description": "Stored (`Location` names it)"},
        **PROBLEMS,
    },
    openapi_extra=json_body(PUSHED_NOTIFICATION, description=CLOUDEVENTS_TOO),
)
async def publish_notification(
    request: Request, response: Response, container: ContainerDep, caller: Publisher
) -> AcceptedNotification:
    """Push one notification. Pushing the same notification again stores nothing and answers
    200 with the first push's position."""
    raw = await read_json(request, container.settings.max_request_bytes)
    result = await container.intake.publish(
        raw,
        notifications.Publisher(caller.client_id, caller.agency),
        directory=container.policy.directory,
    )
    if result.duplicate:
        response.status_code = 200
    response.headers["Location"] = (
        f"/v1/events/{quote(result.id, safe='')}?source={quote(result.source, safe='')}"
    )
    return AcceptedNotification.of(result)


@router.post(
    "/batch",
    response_model=AcceptedBatch,
    operation_id="publishNotificationBatch",
    responses=BATCH_PROBLEMS,
    openapi_extra=json_body(NOTIFICATION_BATCH, description=CLOUDEVENTS_TOO),
)
async def publish_batch(
    request: Request, container: ContainerDep, caller: Publisher
) -> AcceptedBatch:
    """Push a JSON array of notifications, all or nothing: if any item is invalid nothing is
    stored, and `errors` names the index and field of every problem."""
    raw = await read_json(request, container.settings.max_request_bytes)
    results = await container.intake.publish_batch(
        raw,
        notifications.Publisher(caller.client_id, caller.agency),
        directory=container.policy.directory,
    )
    duplicates = sum(1 for r in results if r.duplicate)
    return AcceptedBatch(
        accepted=len(results) - duplicates,
        duplicates=duplicates,
        results=[AcceptedNotification.of(r) for r in results],
    )


@router.get(
    "/{event_id}",
    response_model=StoredNotification,
    operation_id="getNotification",
    responses=READ_PROBLEMS,
)
async def get_notification(
    event_id: str,
    container: ContainerDep,
    caller: EventReader,
    purpose: Purpose,
    source: str | None = Query(default=None, max_length=500),
) -> StoredNotification:
    """A notification the caller's agency published. Others' notifications are not found."""
    found = await container.store.find_published(event_id, caller.agency)
    if source is not None:
        found = [e for e in found if e.notification.source == source]
    if not found:
        raise NotFound(f"your agency has published no notification with id {event_id!r}")
    if len(found) > 1:
        raise Conflict(
            f"your agency published {len(found)} notifications with id {event_id!r} from "
            "different sources; say which with ?source="
        )
    [event] = found
    await container.consultations.record(
        [
            Consulted(
                "event",
                person_id=event.person_id,
                event_id=event.notification.id,
                source=event.notification.source,
                fields=data_fields(event.notification.data),
            )
        ],
        principal(caller),
        purpose,
    )
    return StoredNotification.of(event)
