"""The DPO places and lifts restrictions on a person's subject access reports (DPA 2018 s45(4))
from the person's page: the same `AuditQueryService.restrict` and `lift` the API's
`/v1/audit/persons/.../restrictions` and `/v1/audit/restrictions/.../lift` call, which store the
change and its audit entry in one transaction, with the signed-in person as the actor.

Each form carries the person's id and the purpose the page was opened for only so that the
answer can offer the way back to the person's page (itself a new, logged look); placing or
lifting reads nothing about the person.
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from hub.api.console.dpo_pages import Text, forged, officer_or_answer
from hub.api.console.officer import principal_of
from hub.api.console.rendering import page
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, csrf_matches
from hub.api.deps import ContainerDep
from hub.errors import Conflict, InvalidInput, NotFound
from hub.services.audit_queries import GROUNDS, Restriction, new_restriction_id

router = APIRouter(include_in_schema=False)

Many = Annotated[list[str], Form()]

#: An event type as `events/` names them (`custody.admission`, `release.schedule1-notification`).
_EVENT_TYPE = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)+")
#: As the service checks it (`AuditQueryService.restrict`), so the page can say which field.
_REFERENCE = re.compile(r"[A-Za-z0-9_./:\-]{1,100}")


def _answer(
    request: Request,
    console: Console,
    officer: ConsoleSession,
    *,
    person_id: str,
    purpose: str,
    status_code: int = 200,
    done: str | None = None,
    restriction: Restriction | None = None,
    errors: dict[str, str] | None = None,
) -> Response:
    return page(
        request,
        console,
        "dpo_restriction.html",
        status_code=status_code,
        person=officer.person,
        csrf_token=officer.csrf_token,
        person_id=person_id,
        purpose=purpose,
        done=done,
        restriction=restriction,
        grounds=GROUNDS,
        errors=errors or {},
    )


@router.post("/console/dpo/restrictions", name="console_dpo_restrict")
async def place_restriction(
    request: Request,
    container: ContainerDep,
    person_id: Text = "",
    purpose: Text = "",
    ground: Text = "",
    reference: Text = "",
    recipients: Many = [],  # noqa: B006 - FastAPI copies a default; a form may send none
    event_types: Many = [],  # noqa: B006
    csrf_token: Text = "",
) -> Response:
    """Restrict the person's subject access reports: everything shared, or only what went to
    the chosen recipients / was about the chosen notification types."""
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    if not csrf_matches(officer, csrf_token):
        return forged(request, console)
    errors: dict[str, str] = {}
    if ground not in GROUNDS:
        errors["ground"] = "Choose the ground of DPA 2018 s45(4) the restriction rests on"
    known = container.policy.directory.recipients
    if unknown := [r for r in recipients if r not in known]:
        errors["recipients"] = "Not a recipient in the directory: " + ", ".join(unknown[:5])
    if bad := [t for t in event_types if not _EVENT_TYPE.fullmatch(t)]:
        errors["event_types"] = "Not a notification type: " + ", ".join(bad[:5])
    reference = reference.strip()
    if reference and not _REFERENCE.fullmatch(reference):
        errors["reference"] = (
            "A case reference is up to 100 letters, digits and . _ / : - (e.g. SAR-2026-0117)"
        )
    if errors:
        return _answer(
            request,
            console,
            officer,
            person_id=person_id,
            purpose=purpose,
            status_code=400,
            errors=errors,
        )
    try:
        restriction = await container.audit_queries.restrict(
            person_id,
            ground=ground,
            recipients=recipients,
            event_types=event_types,
            reference=reference or None,
            principal=principal_of(officer.person),
            restriction_id=new_restriction_id(),
        )
    except (InvalidInput, NotFound) as error:
        return _answer(
            request,
            console,
            officer,
            person_id=person_id,
            purpose=purpose,
            status_code=404 if isinstance(error, NotFound) else 400,
            errors={"person": str(error)},
        )
    return _answer(
        request,
        console,
        officer,
        person_id=person_id,
        purpose=purpose,
        done="placed",
        restriction=restriction,
    )


@router.post("/console/dpo/restrictions/{restriction_id}/lift", name="console_dpo_lift")
async def lift_restriction(
    restriction_id: str,
    request: Request,
    container: ContainerDep,
    person_id: Text = "",
    purpose: Text = "",
    csrf_token: Text = "",
) -> Response:
    """Lift a restriction: it stays on record, with who lifted it and when."""
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    if not csrf_matches(officer, csrf_token):
        return forged(request, console)
    try:
        restriction = await container.audit_queries.lift(
            restriction_id, principal_of(officer.person)
        )
    except (NotFound, Conflict) as error:
        return _answer(
            request,
            console,
            officer,
            person_id=person_id,
            purpose=purpose,
            status_code=404 if isinstance(error, NotFound) else 409,
            errors={"restriction": str(error)},
        )
    return _answer(
        request,
        console,
        officer,
        person_id=person_id,
        purpose=purpose,
        done="lifted",
        restriction=restriction,
    )
