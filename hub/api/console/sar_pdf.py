"""The subject access report as PDF, beside the CSV (`dpo_pages.subject_access_report`): the
same report from the same service call, which withholds what an active restriction covers and
records the download as a consultation under the officer's name with their stated purpose.
The PDF is A4, in the design system's typeface, with the person and the generation time on every
page, the audit log's latest signed checkpoint in the footer and page numbers."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from hub.api.console.dpo_pages import attachment, subject_access_report_or_answer
from hub.api.console.names import names_for
from hub.api.console.timeline import timeline
from hub.api.deps import ContainerDep

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
    asked = await subject_access_report_or_answer(
        request, container, person_id, purpose, csrf_token
    )
    if isinstance(asked, Response):
        return asked
    console, officer, report = asked
    recipients = {r.id: r.name for r in container.policy.directory.recipients.values()}
    names = await names_for((r.entry.actor for r in report.records), recipients, container.clients)
    withheld = report.as_json().get("withheld") or {}
    # WeasyPrint (and Pango under it) is loaded by the first PDF, not by every `hub serve` start.
    from hub.api.console.print_pdf import render_pdf

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
    return attachment(console, pdf, "application/pdf", report.person_id, "pdf")
