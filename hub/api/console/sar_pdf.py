"""The subject access report as PDF, beside the CSV (`dpo_pages.subject_access_report`): the
same report from the same service call, which withholds what an active restriction covers and
records the download as a consultation under the officer's name with their stated purpose.
The PDF is A4, in the design system's typeface, with the person and the generation time on every
page, the audit log's latest signed checkpoint in the footer and page numbers."""

from __future__ import annotations

import asyncio
import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from hub.api.console.dpo_pages import forged, officer_or_answer, stated_purpose
from hub.api.console.names import names_for
from hub.api.console.officer import principal_of
from hub.api.console.print_pdf import render_pdf
from hub.api.console.rendering import page, protect
from hub.api.console.sessions import csrf_matches
from hub.api.console.timeline import timeline
from hub.api.deps import ContainerDep
from hub.errors import InvalidInput, NotFound

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form()]


@router.post("/console/dpo/subject-access-report/pdf", name="console_dpo_sar_pdf")
async def subject_access_report_pdf(
    request: Request,
    container: ContainerDep,
    person_id: Text = "",
    purpose: Text = "",
    csrf_token: Text = "",
) -> Response:
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    if not csrf_matches(officer, csrf_token):
        return forged(request, console)
    try:
        checked_purpose = stated_purpose(purpose)
        report = await container.audit_queries.history(
            person_id,
            principal_of(officer.person, console.relying_party.issuer),
            checked_purpose,
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
    recipients = {r.id: r.name for r in container.policy.directory.recipients.values()}
    names = await names_for((r.entry.actor for r in report.records), recipients, container.clients)
    withheld = report.as_json().get("withheld") or {}
    pdf = await asyncio.to_thread(
        render_pdf,
        "subject_access_report.html",
        report=report,
        rows=timeline(report, names),
        leaf_index={r.position: r.leaf_index for r in report.records},
        statement=withheld.get("statement"),
        officer=officer.person.name,
        checkpoint=await container.audit_trail.latest_checkpoint(),
    )
    response = Response(pdf, media_type="application/pdf")
    # The hub's opaque person id names the file, never an identifier such as a PNC ID.
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", report.person_id)
    filename = f"subject-access-report-{safe_id}.pdf"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return protect(response, console)
