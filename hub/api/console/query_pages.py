"""The data protection officer's disclosure queries: what the hub disclosed (and refused), by
recipient, sharing rule, the disclosure's recorded purpose and period, as a table with paging.

The page calls the same `AuditQueryService.find` the API's `/v1/audit/disclosures` calls, which
records each query as a consultation with its criteria, the signed-in officer as the actor and
the purpose the officer states on the form. Whether each disclosure was delivered and
acknowledged is read the same way (one `find` per disclosure on the page, by its event and
recipient, logged likewise). Criteria and purposes travel in POST bodies only, never in a URL.
Bad input answers the form with what was wrong, and nothing is read or recorded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from hub.api.console.dpo_pages import Text, forged, officer_or_answer, stated_purpose
from hub.api.console.officer import principal_of
from hub.api.console.rendering import page
from hub.api.console.runtime import Console
from hub.api.console.sessions import ConsoleSession, csrf_matches
from hub.api.deps import ContainerDep
from hub.bootstrap import Container
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.errors import InvalidInput
from hub.services.audit_queries import MAX_PAGE, AuditQuery, AuditRecord, Principal

router = APIRouter(include_in_schema=False)

#: Disclosures shown on one page of results.
PAGE_SIZE = 25
#: A sharing rule id as the policy bundle names them.
_RULE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}")
_FOLLOW_UPS = (AuditKind.DELIVERY, AuditKind.ACKNOWLEDGEMENT)


@dataclass(frozen=True, slots=True)
class Criteria:
    """What the officer typed, as typed (the form is shown again with it)."""

    recipient: str = ""
    rule: str = ""
    contains: str = ""
    start: str = ""
    end: str = ""
    purpose: str = ""


@dataclass(frozen=True, slots=True)
class Row:
    """One disclosure decision on the results page."""

    at: str
    recipient: str
    event_type: str
    outcome: str
    rules: str
    legal_basis: str
    delivered: str
    acknowledged: str


def _day(text: str, field: str, errors: dict[str, str]) -> date | None:
    text = text.strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        errors[field] = f"Enter the {field} date as year-month-day, e.g. 2026-03-31"
        return None


def _query(
    criteria: Criteria, recipients: dict[str, str], after: int, errors: dict[str, str]
) -> AuditQuery | None:
    """The query the criteria ask for, or None with `errors` naming each wrong field."""
    if criteria.recipient and criteria.recipient not in recipients:
        errors["recipient"] = f"Not a recipient in the directory: {criteria.recipient[:100]}"
    rule = criteria.rule.strip()
    if rule and not _RULE.fullmatch(rule):
        errors["rule"] = "A rule id is up to 100 letters, digits and _ . : - (e.g. r-release-sw)"
    contains = criteria.contains.strip()
    if len(contains) > 200:
        errors["contains"] = "Words in the purpose are at most 200 characters"
    start = _day(criteria.start, "start", errors)
    end = _day(criteria.end, "end", errors)
    if start and end and end < start:
        errors["end"] = "The end date is before the start date: the period is empty"
    if errors:
        return None
    return AuditQuery(
        recipient_id=criteria.recipient or None,
        rule=rule or None,
        purpose=contains or None,
        kinds=(AuditKind.DISCLOSURE,),
        since=None if start is None else datetime.combine(start, time(), UTC),
        # The whole end day: before midnight UTC after it.
        until=None if end is None else datetime.combine(end + timedelta(days=1), time(), UTC),
        after=after,
        limit=PAGE_SIZE,
    )


async def _rows(
    container: Container,
    found: list[AuditRecord],
    recipients: dict[str, str],
    principal: Principal,
    purpose: str,
) -> list[Row]:
    follow_ups = await _follow_ups(container, found, principal, purpose)
    rows = []
    for record in found:
        entry = record.entry
        disclosed = entry.outcome == "disclosed"
        delivered = acknowledged = "Not applicable"
        if disclosed and entry.event_id is not None and entry.recipient_id is not None:
            mine = follow_ups.get((entry.recipient_id, entry.details.get("disclosure_id")), [])
            deliveries = [e for e in mine if e.kind is AuditKind.DELIVERY]
            acks = [e for e in mine if e.kind is AuditKind.ACKNOWLEDGEMENT]
            done = [e for e in deliveries if e.state == "delivered"]
            delivered = (
                _when(done[0].occurred_at)
                if done
                else f"No ({deliveries[-1].state})"
                if deliveries
                else "Not yet"
            )
            acknowledged = _when(acks[0].occurred_at) if acks else "Not yet"
        recipient_id = entry.recipient_id or ""
        rows.append(
            Row(
                at=_when(entry.occurred_at),
                recipient=recipients.get(recipient_id, recipient_id),
                event_type=str(entry.details.get("event_type") or ""),
                outcome="Disclosed" if disclosed else "Refused",
                rules=", ".join(entry.rules),
                legal_basis=entry.legal_basis or "",
                delivered=delivered,
                acknowledged=acknowledged,
            )
        )
    return rows


async def _follow_ups(
    container: Container, found: list[AuditRecord], principal: Principal, purpose: str
) -> dict[tuple[str, object], list[AuditEntry]]:
    """The deliveries and acknowledgements of the page's disclosures, by recipient and
    disclosure id, read in one look-up (one consultation, however many rows), paged only when
    a page's follow-ups outnumber the look-up's limit."""
    disclosed = [
        r
        for r in found
        if r.entry.outcome == "disclosed"
        and r.entry.event_id is not None
        and r.entry.recipient_id is not None
    ]
    grouped: dict[tuple[str, object], list[AuditEntry]] = {}
    if not disclosed:
        return grouped
    recipients = {r.entry.recipient_id for r in disclosed}
    query = AuditQuery(
        # Only what the page needs: its recipient's, when the rows are all one recipient's.
        recipient_id=next(iter(recipients)) if len(recipients) == 1 else None,
        event_ids=tuple(sorted({r.entry.event_id for r in disclosed if r.entry.event_id})),
        kinds=_FOLLOW_UPS,
        after=min(r.position for r in disclosed),
        limit=MAX_PAGE,
    )
    while True:
        page = await container.audit_queries.find(query, principal, purpose)
        for record in page:
            entry = record.entry
            if entry.recipient_id is not None:
                key = (entry.recipient_id, entry.details.get("disclosure_id"))
                grouped.setdefault(key, []).append(entry)
        if len(page) < query.limit:
            return grouped
        query = replace(query, after=page[-1].position)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def _form(
    request: Request,
    console: Console,
    officer: ConsoleSession,
    recipients: dict[str, str],
    criteria: Criteria,
    *,
    status_code: int = 200,
    errors: dict[str, str] | None = None,
    rows: list[Row] | None = None,
    next_after: int | None = None,
    after: int = 0,
) -> Response:
    return page(
        request,
        console,
        "dpo_disclosures.html",
        status_code=status_code,
        fragment="partials/dpo_disclosure_results.html",
        person=officer.person,
        csrf_token=officer.csrf_token,
        recipients=sorted(recipients.items(), key=lambda item: item[1]),
        criteria=criteria,
        errors=errors or {},
        rows=rows,
        next_after=next_after,
        after=after,
    )


def _recipients(container: Container) -> dict[str, str]:
    return {r.id: r.name for r in container.policy.directory.recipients.values()}


@router.get("/console/dpo/disclosures", name="console_dpo_disclosures")
async def query_form(request: Request, container: ContainerDep) -> Response:
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    return _form(request, console, officer, _recipients(container), Criteria())


@router.post("/console/dpo/disclosures", name="console_dpo_disclosures_found")
async def query_results(
    request: Request,
    container: ContainerDep,
    recipient: Text = "",
    rule: Text = "",
    contains: Text = "",
    start: Text = "",
    end: Text = "",
    purpose: Text = "",
    after: Annotated[str, Form()] = "0",
    csrf_token: Text = "",
) -> Response:
    """The disclosures matching every criterion given, a page at a time (`after`: the last
    position already shown)."""
    console, officer = officer_or_answer(request)
    if isinstance(officer, Response):
        return officer
    if not csrf_matches(officer, csrf_token):
        return forged(request, console)
    recipients = _recipients(container)
    criteria = Criteria(recipient, rule, contains, start, end, purpose)
    errors: dict[str, str] = {}
    position = int(after) if after.isascii() and after.isdigit() and len(after) < 19 else -1
    if position < 0:
        errors["after"] = "The page to show is not one this form offered; start the query again"
    try:
        checked_purpose = stated_purpose(purpose)
    except InvalidInput as error:
        errors["purpose"] = str(error).replace("this person's record", "these disclosures")
    query = _query(criteria, recipients, max(position, 0), errors)
    if errors or query is None:
        return _form(
            request, console, officer, recipients, criteria, status_code=400, errors=errors
        )
    principal = principal_of(officer.person)
    found = await container.audit_queries.find(query, principal, checked_purpose)
    rows = await _rows(container, found, recipients, principal, checked_purpose)
    return _form(
        request,
        console,
        officer,
        recipients,
        criteria,
        rows=rows,
        next_after=found[-1].position if len(found) == PAGE_SIZE else None,
        after=position,
    )
