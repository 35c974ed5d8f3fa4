"""The MAPPA co-ordinator's oversight pages for their region: the dashboard (per agency and
notification type, how long information took to be decided, delivered and acknowledged, and
what is overdue now), the list of overdue acknowledgements the hub escalated to the region, and
one of them in detail. Only a co-ordinator of the region sees them (`mappa_access`).

The dashboard shows counts and latencies for a chosen period and the trends of the last 12
months, no personal data (so, as `/metrics`, it logs no consultation), read by
`LatencyPeriodService` for the region's agencies only (`mappa_dashboard`). The period comes in
the query string (nothing about a person): a wrong one is answered on the page, naming the
field, and nothing is read.

The overdue list and its drill-down show what was disclosed about people: they are opened with
a stated purpose by POST (nothing about a person in a URL), and every read is logged by
`AuditQueryService` as a consultation under the co-ordinator's name.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from hub.api.console.dpo_pages import Text, forged, stated_purpose
from hub.api.console.mappa_access import coordinator_or_answer, regions_of
from hub.api.console.mappa_dashboard import RegionFigures, region_figures
from hub.api.console.mappa_overdue import one_overdue, overdue_in_region
from hub.api.console.mappa_periods import CHOICES, DEFAULT, chosen_period, preset
from hub.api.console.officer import principal_of
from hub.api.console.rendering import console_of, page, protect, session_of
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, csrf_matches
from hub.api.deps import ContainerDep
from hub.bootstrap import Container
from hub.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)

#: The period form's fields, and the most of each that is read (and shown again).
_PERIOD_FIELDS = ("period", "from", "to")
_PERIOD_FIELD_LENGTH = 40

#: A disclosure id as the hub makes them (`hub.domain.disclosures`): letters, digits, - _ : .
_DISCLOSURE_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")


@router.get("/console/mappa", name="console_mappa")
async def my_region(request: Request) -> Response:
    """To the dashboard of the (first) region the signed-in person co-ordinates."""
    console = console_of(request)
    session = session_of(request, console)
    regions = [] if session is None else regions_of(session.person)
    if session is None or not regions:
        # Not a co-ordinator: the region gate answers (sign in, or refused).
        _, answer = coordinator_or_answer(request, "")
        assert isinstance(answer, Response)
        return answer
    target = request.url_for("console_mappa_dashboard", region=regions[0])
    return protect(RedirectResponse(str(target), status_code=303), console)


def _period_form(request: Request) -> dict[str, str]:
    return {
        name: request.query_params.get(name, "")[:_PERIOD_FIELD_LENGTH] for name in _PERIOD_FIELDS
    }


def _dashboard(
    request: Request,
    console: Console,
    container: Container,
    session: ConsoleSession,
    region: str,
    figures: RegionFigures | None,
    form: dict[str, str],
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    purpose: str = "",
) -> Response:
    recipient = container.policy.directory.get(region)
    return page(
        request,
        console,
        "mappa_dashboard.html",
        status_code=status_code,
        scripts=figures is not None,
        person=session.person,
        csrf_token=session.csrf_token,
        region=region,
        region_name=recipient.name if recipient is not None else region,
        figures=figures,
        choices=CHOICES,
        form=form,
        errors=errors or {},
        purpose=purpose,
    )


@router.get("/console/mappa/{region}", name="console_mappa_dashboard")
async def dashboard(region: str, request: Request, container: ContainerDep) -> Response:
    """The region's figures for the period chosen in the query string (`period`: one of
    `CHOICES`; for `custom`, the days `from` and `to`, both included), and its trends."""
    console, coordinator = coordinator_or_answer(request, region)
    if isinstance(coordinator, Response):
        return coordinator
    form = _period_form(request)
    chosen = chosen_period(form, container.latency_periods.now())
    if isinstance(chosen, dict):
        return _dashboard(
            request,
            console,
            container,
            coordinator,
            region,
            None,
            form,
            status_code=400,
            errors=chosen,
        )
    figures = await region_figures(container, region, chosen)
    return _dashboard(request, console, container, coordinator, region, figures, chosen.form())


async def _purpose_or_dashboard(
    request: Request,
    console: Console,
    container: Container,
    coordinator: ConsoleSession,
    region: str,
    purpose: str,
) -> str | Response:
    try:
        return stated_purpose(purpose)
    except InvalidInput as error:
        message = str(error).replace(
            "this person's record", "the overdue disclosures (they name people)"
        )
        chosen = preset(DEFAULT, container.latency_periods.now())
        return _dashboard(
            request,
            console,
            container,
            coordinator,
            region,
            await region_figures(container, region, chosen),
            chosen.form(),
            status_code=400,
            errors={"purpose": message},
            purpose=purpose,
        )


@router.post("/console/mappa/{region}/overdue", name="console_mappa_overdue")
async def overdue_list(
    region: str,
    request: Request,
    container: ContainerDep,
    purpose: Text = "",
    csrf_token: Text = "",
) -> Response:
    """The disclosures escalated to the region as not acknowledged in time, read for
    `purpose`."""
    console, coordinator = coordinator_or_answer(request, region)
    if isinstance(coordinator, Response):
        return coordinator
    if not csrf_matches(coordinator, csrf_token):
        return forged(request, console)
    checked = await _purpose_or_dashboard(request, console, container, coordinator, region, purpose)
    if isinstance(checked, Response):
        return checked
    principal = principal_of(coordinator.person)
    items = await overdue_in_region(container, region, principal, checked)
    return page(
        request,
        console,
        "mappa_overdue.html",
        person=coordinator.person,
        csrf_token=coordinator.csrf_token,
        region=region,
        items=items,
        names={r.id: r.name for r in container.policy.directory.recipients.values()},
        purpose=checked,
    )


@router.post("/console/mappa/{region}/overdue/disclosure", name="console_mappa_overdue_one")
async def overdue_disclosure(
    region: str,
    request: Request,
    container: ContainerDep,
    disclosure_id: Text = "",
    purpose: Text = "",
    csrf_token: Text = "",
) -> Response:
    """One overdue disclosure: what was sent, when, to whom, under which rule and legal basis,
    and where its delivery and acknowledgement stand."""
    console, coordinator = coordinator_or_answer(request, region)
    if isinstance(coordinator, Response):
        return coordinator
    if not csrf_matches(coordinator, csrf_token):
        return forged(request, console)
    checked = await _purpose_or_dashboard(request, console, container, coordinator, region, purpose)
    if isinstance(checked, Response):
        return checked
    if not _DISCLOSURE_ID.fullmatch(disclosure_id):
        return page(
            request,
            console,
            "error.html",
            status_code=400,
            title="No such disclosure",
            message="The disclosure id is missing or not one the hub makes (letters, digits "
            "and . _ : -, at most 200). Nothing was read.",
        )
    principal = principal_of(coordinator.person)
    try:
        item = await one_overdue(container, region, disclosure_id, principal, checked)
    except NotFound as error:
        return page(
            request,
            console,
            "error.html",
            status_code=404,
            title="No such overdue disclosure",
            message=str(error),
        )
    return page(
        request,
        console,
        "mappa_disclosure.html",
        person=coordinator.person,
        csrf_token=coordinator.csrf_token,
        region=region,
        item=item,
        names={r.id: r.name for r in container.policy.directory.recipients.values()},
        purpose=checked,
    )
