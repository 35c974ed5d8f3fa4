"""`POST /v1/policy/explain`: why each candidate recipient would or would not receive a
notification, stored or hypothetical."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from hub.api.body import read_json
from hub.api.deps import ContainerDep, Purpose, principal
from hub.api.openapi import NOTIFICATION, json_body, problems
from hub.api.security import Caller, require_scopes
from hub.domain.audit.builders import Consulted
from hub.errors import NotFound
from hub.services.clients import HUB_AGENCIES

router = APIRouter(prefix="/v1/policy", tags=["policy"])

Explainer = Annotated[Caller, Depends(require_scopes("policy:explain"))]

EXPLAIN_REQUEST: dict[str, Any] = {
    "title": "Explain request",
    "description": "Exactly one of `stored` (a notification the hub holds) or `notification` "
    "(a hypothetical one, which is not stored).",
    "oneOf": [
        {
            "title": "Explain stored",
            "type": "object",
            "required": ["stored"],
            "additionalProperties": False,
            "properties": {
                "stored": {
                    "type": "object",
                    "required": ["source", "id"],
                    "properties": {"source": {"type": "string"}, "id": {"type": "string"}},
                }
            },
        },
        {
            "title": "Explain hypothetical",
            "type": "object",
            "required": ["notification"],
            "additionalProperties": False,
            "properties": {"notification": NOTIFICATION},
        },
    ],
}
EXPLAIN_EXAMPLES: dict[str, Any] = {
    "stored": {
        "summary": "A stored notification",
        "value": {
            "stored": {
                "source": "urn:pph:sps:pr2:hmp-barlinnie",
                "id": "3f0c7d52-1e4b-4b8a-9c61-0a7e5d2b9f10",
            }
        },
    }
}


@router.post(
    "/explain",
    operation_id="explainPolicy",
    responses=problems(
        {
            400: "Not strict JSON, or neither `stored` nor `notification`, or a bad X-Purpose",
            403: "The token lacks policy:explain",
            404: "No such stored notification of the caller's agency",
            413: "The body is over the size limit",
            415: "The body is not JSON",
            422: "The hypothetical notification is invalid; `errors` names each field",
        }
    ),
    openapi_extra=json_body(EXPLAIN_REQUEST, examples=EXPLAIN_EXAMPLES),
)
async def explain(
    request: Request, container: ContainerDep, caller: Explainer, purpose: Purpose
) -> dict[str, Any]:
    """Body: `{"stored": {"source": …, "id": …}}` to explain the decision the hub made (with the
    profile as it stood at that notification), or `{"notification": {…}}` to ask what would
    happen to a notification that is not stored (nothing is stored by asking). The answer lists
    every candidate recipient, every rule on that event type — matched or not, and which
    condition failed — and the fields each candidate would be granted and withheld.

    A hypothetical notification is judged after the person's stored history only for the hub's
    own roles; an agency's is judged as the first notification about its person, so that no
    agency learns, by asking, what other agencies told the hub about someone."""
    raw = await read_json(request, container.settings.max_request_bytes)
    await _stored_is_callers(raw, caller, container)
    answer = await container.explain.explain(raw, with_history=caller.agency in HUB_AGENCIES)
    person_id = answer.get("person_id")
    if isinstance(person_id, str):
        # The answer shows the person's profile (and, for a stored notification, what it said).
        notification = answer.get("notification") or {}
        hypothetical = bool(answer.get("hypothetical"))
        await container.consultations.record(
            [
                Consulted(
                    "policy.explain",
                    person_id=person_id,
                    event_id=None if hypothetical else notification.get("id"),
                    source=None if hypothetical else notification.get("source"),
                    fields=("profile",),
                )
            ],
            principal(caller),
            purpose,
        )
    return answer


async def _stored_is_callers(raw: object, caller: Caller, container: ContainerDep) -> None:
    """A stored notification is explained only to the agency that published it, or to the
    hub's own roles: the answer shows the person's profile. Another agency's is not found."""
    stored = raw.get("stored") if isinstance(raw, dict) else None
    if not isinstance(stored, dict) or caller.agency in HUB_AGENCIES:
        return
    source, event_id = stored.get("source"), stored.get("id")
    if not isinstance(source, str) or not isinstance(event_id, str):
        return  # the explain service says what is wrong with the request
    published = await container.store.find_published(event_id, caller.agency)
    if not any(event.notification.source == source for event in published):
        raise NotFound(f"no notification with id {event_id!r} from {source!r} is stored")
