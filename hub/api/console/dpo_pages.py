"""The data protection officer's pages: find a person by any identifier, their history on one
page, and their subject access report as CSV (restrictions: `restriction_pages`). Only the dpo
role sees them.

Each page is a consultation of personal data: it calls the same `AuditQueryService` the API's
`/v1/audit/persons/.../history` calls, which records the read, with the purpose the officer
typed before the page opened and the signed-in person as the actor (`officer.principal_of`).
Identifiers and purposes travel in POST bodies only, never in a URL (which browsers, proxies
and logs keep).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from hub.api.console.names import names_for
from hub.api.console.officer import principal_of
from hub.api.console.rendering import page, protect, signed_in_or_answer
from hub.api.console.restriction_choices import restriction_choices
from hub.api.console.roles import HubRole
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, csrf_matches
from hub.api.console.timeline import timeline
from hub.api.deps import ContainerDep
from hub.bootstrap import Container
from hub.domain.notifications import SCHEMES
from hub.errors import InvalidInput, NotFound
from hub.services.audit_queries import HistoryReport, check_purpose

router = APIRouter(include_in_schema=False)

DPO = HubRole("dpo")
#: "person_id" finds a person by the hub's own id; the others are the identifier schemes.
PERSON_ID = "person_id"
SCHEME_CHOICES = [(PERSON_ID, "Hub person id")] + [
    (name, scheme.title) for name, scheme in SCHEMES.items()
]

Text = Annotated[str, Form()]


def officer_or_answer(request: Request) -> tuple[Console, ConsoleSession | Response]:
    """The console and the signed-in data protection officer, or the answer to send instead:
    to the sign-in page when nobody is signed in, the refused page to anyone else."""
    return signed_in_or_answer(request, {DPO}, "Data protection officer", "the DPO pages")


def _search_page(
    request: Request,
    console: Console,
    session: ConsoleSession,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    scheme: str = "pnc_id",
    purpose: str = "",
) -> Response:
    return page(
        request,
        console,
        "dpo_search.html",
        status_code=status_code,
        person=session.person,
        csrf_token=session.csrf_token,
        schemes=SCHEME_CHOICES,
        scheme=scheme,
        purpose=purpose,
        errors=errors or {},
    )


def forged(request: Request, console: Console) -> Response:
    return page(
        request,
        console,
        "error.html",
        status_code=403,
        title="Request refused",
        message="The form did not come from this console (its CSRF token is missing or wrong). "
        "Nothing was read; use the search form on the console's page.",
    )


def stated_purpose(purpose: str) -> str:
    """The purpose, checked as the API checks `X-Purpose` (its message names the field)."""
    try:
        checked = check_purpose(purpose, required=True)
    except InvalidInput as error:
        if not purpose.strip():
            raise InvalidInput(
                "Say why you are looking at this person's record, e.g. "
                "'subject access request SAR-2026-0117'"
            ) from error
        raise InvalidInput(str(error).replace("X-Purpose", "The purpose")) from error
    assert checked is not None  # required=True: a missing purpose raised above
    return checked


@router.get("/console/dpo", name="console_dpo_search")
async def search_form(request: Request) -> Response:
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    return _search_page(request, console, officer)


@router.post("/console/dpo/person", name="console_dpo_person")
async def person_page(
    request: Request,
    container: ContainerDep,
    scheme: Text = "",
    value: Text = "",
    purpose: Text = "",
    csrf_token: Text = "",
) -> Response:
    """The person found by `scheme` and `value`: their whole history, read for `purpose`."""
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    if not csrf_matches(officer, csrf_token):
        return forged(request, console)
    errors: dict[str, str] = {}
    value = value.strip()
    if scheme != PERSON_ID and scheme not in SCHEMES:
        errors["scheme"] = "Choose the kind of identifier from the list"
    if not value:
        errors["value"] = "Enter the identifier's value"
    elif len(value) > 200:
        errors["value"] = "An identifier is at most 200 characters"
    try:
        checked_purpose = stated_purpose(purpose)
    except InvalidInput as error:
        errors["purpose"] = str(error)
    if errors:
        return _search_page(
            request,
            console,
            officer,
            status_code=400,
            errors=errors,
            scheme=scheme,
            purpose=purpose,
        )
    reference = value if scheme == PERSON_ID else f"{scheme}:{value}"
    queries = container.audit_queries
    try:
        person_id = await queries.resolve_person(reference)
    except (InvalidInput, NotFound) as error:
        unknown = isinstance(error, NotFound)
        return _search_page(
            request,
            console,
            officer,
            status_code=404 if unknown else 400,
            errors={
                "value": "No person is known to the hub by this identifier"
                if unknown
                else str(error)
            },
            scheme=scheme,
            purpose=purpose,
        )
    report = await queries.history(person_id, principal_of(officer.person), checked_purpose)
    recipients = {r.id: r.name for r in container.policy.directory.recipients.values()}
    names = await names_for((r.entry.actor for r in report.records), recipients, container.clients)
    checkpoint = await container.audit_trail.latest_checkpoint()
    return page(
        request,
        console,
        "dpo_person.html",
        person=officer.person,
        csrf_token=officer.csrf_token,
        report=report,
        rows=timeline(report, names),
        names=names,
        purpose=checked_purpose,
        checkpoint=checkpoint,
        choices=restriction_choices(report, recipients),
    )


@router.post("/console/dpo/subject-access-report", name="console_dpo_sar")
async def subject_access_report(
    request: Request,
    container: ContainerDep,
    person_id: Text = "",
    purpose: Text = "",
    csrf_token: Text = "",
) -> Response:
    """The subject access report as CSV: the API's own report (`subject_access=true`), which
    withholds what an active restriction covers and says so."""
    asked = await subject_access_report_or_answer(
        request, container, person_id, purpose, csrf_token
    )
    if isinstance(asked, Response):
        return asked
    console, _, report = asked
    body = report.as_csv().encode()
    return attachment(console, body, "text/csv; charset=utf-8", report.person_id, "csv")


async def subject_access_report_or_answer(
    request: Request, container: Container, person_id: str, purpose: str, csrf_token: str
) -> tuple[Console, ConsoleSession, HistoryReport] | Response:
    """The signed-in officer's subject access report on `person_id` (the API's own, which
    records the reading as a consultation under their name and stated purpose), or the answer
    to send instead: sign-in, refusal, a forged form, or a page that says what was wrong."""
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    if not csrf_matches(officer, csrf_token):
        return forged(request, console)
    try:
        report = await container.audit_queries.history(
            person_id,
            principal_of(officer.person),
            stated_purpose(purpose),
            subject_access=True,
        )
    except (InvalidInput, NotFound) as error:
        return page(
            request,
            console,
            "error.html",
            status_code=404 if isinstance(error, NotFound) else 400,
            title="No report",
            message=str(error),
        )
    return console, officer, report


def attachment(
    console: Console, body: bytes, media_type: str, person_id: str, extension: str
) -> Response:
    """A download of a report on `person_id`: the hub's opaque person id names the file, never an
    identifier such as a PNC ID."""
    response = Response(body, media_type=media_type)
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", person_id)
    filename = f"subject-access-report-{safe_id}.{extension}"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return protect(response, console)
