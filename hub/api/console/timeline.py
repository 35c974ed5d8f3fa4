"""A person's history report (`AuditQueryService.history`, the same report the API and CLI
give) as the rows of one timeline a person can read: what was collected, disclosed to whom and
whether it was delivered and acknowledged, refused and why, consulted by whom, changed, erased.
Deliveries and acknowledgements are shown on the disclosure they complete, not as rows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hub.api.console.names import Names
from hub.domain.audit.entries import AuditKind
from hub.services.audit_queries import AuditRecord, HistoryReport

_TITLES: Mapping[str, str] = {
    "collection": "Collected",
    "disclosed": "Disclosed",
    "denied": "Refused",
    "proposed": "Held for review",
    "reviewed": "Reviewed",
    "decided": "Decided",
    "consultation": "Consulted",
    "alteration": "Changed",
    "combination": "Records linked",
    "erasure": "Erased",
}


@dataclass(frozen=True, slots=True)
class Fact:
    """One labelled fact shown under a row (`Rule`, `Legal basis`…)."""

    label: str
    value: str
    #: For a list worth folding away (the names of the fields involved): its items.
    items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TimelineRow:
    position: int
    #: collection, disclosed, denied, proposed, reviewed, decided, consultation, alteration,
    #: combination or erasure
    kind: str
    title: str
    at: str
    by: str
    summary: str
    facts: tuple[Fact, ...]


def _moment(value: datetime | str | None) -> str:
    if value is None:
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.strftime("%d %b %Y %H:%M:%S UTC")


def _facts(*pairs: tuple[str, object]) -> tuple[Fact, ...]:
    facts = []
    for label, value in pairs:
        if value in (None, "", ()):
            continue
        if isinstance(value, tuple):
            facts.append(Fact(label, ", ".join(value), items=value))
        else:
            facts.append(Fact(label, str(value)))
    return tuple(facts)


def timeline(report: HistoryReport, names: Names) -> list[TimelineRow]:
    """The report's entries as rows, in the order the trail recorded them."""
    summaries = {d["position"]: d for d in report.as_json()["disclosed"]}
    rows: list[TimelineRow] = []
    for record in report.records:
        row = _row(record, names, summaries)
        if row is not None:
            rows.append(row)
    return rows


def _row(
    record: AuditRecord, names: Names, summaries: Mapping[int, Mapping[str, Any]]
) -> TimelineRow | None:
    entry = record.entry
    details = entry.details
    by = names.actor(entry.actor)
    agency = names.agency(entry.agency)
    if agency and agency != by and entry.agency not in by and agency not in by:
        by = f"{by}, for {agency}"
    event_type = details.get("event_type")
    kind = entry.kind.value
    facts: tuple[Fact, ...]
    if entry.kind is AuditKind.COLLECTION:
        summary = f"A {event_type or 'notification'} notification was received"
        facts = _facts(("Source", entry.source), ("Fields", entry.fields))
    elif entry.kind is AuditKind.DISCLOSURE and entry.outcome == "disclosed":
        kind = "disclosed"
        summary = f"{event_type} disclosed to {names.agency(entry.recipient_id)}"
        done = summaries.get(record.position, {})
        acknowledged = done.get("acknowledged_at")
        facts = _facts(
            ("Fields", entry.fields),
            ("Rule", ", ".join(entry.rules)),
            ("Purpose", entry.purpose),
            ("Legal basis", entry.legal_basis),
            ("Delivered", "yes" if done.get("delivered") else "not yet"),
            ("Acknowledged", _moment(acknowledged) if acknowledged else "not yet"),
        )
    elif entry.kind is AuditKind.DISCLOSURE and entry.outcome == "denied":
        kind = "denied"
        summary = f"{event_type} refused to {names.agency(entry.recipient_id)}"
        facts = _facts(
            ("Why", "; ".join(str(r) for r in _as_list(details.get("reasons")))),
            ("Rule", ", ".join(entry.rules)),
            ("Purpose", entry.purpose),
            ("Legal basis", entry.legal_basis),
        )
    elif entry.kind is AuditKind.DISCLOSURE and entry.outcome == "proposed":
        kind = "proposed"
        summary = (
            f"{event_type} proposed for {names.agency(entry.recipient_id)}, held until a "
            "reviewer decides"
        )
        reviewers = ", ".join(names.agency(str(r)) for r in _as_list(details.get("reviewers")))
        facts = _facts(
            ("Fields", entry.fields),
            ("Rule", ", ".join(entry.rules)),
            ("Purpose", entry.purpose),
            ("Legal basis", entry.legal_basis),
            ("Reviewers", reviewers),
        )
    elif entry.kind is AuditKind.DISCLOSURE and (entry.outcome or "").startswith("review-"):
        kind = "reviewed"
        decision = (entry.outcome or "").removeprefix("review-")
        summary = f"{event_type} for {names.agency(entry.recipient_id)}: {decision}"
        facts = _facts(("Rule", ", ".join(entry.rules)))
    elif entry.kind is AuditKind.DISCLOSURE:  # an outcome this page does not yet know
        kind = "decided"
        summary = f"{event_type} for {names.agency(entry.recipient_id)}: {entry.outcome}"
        facts = _facts(("Rule", ", ".join(entry.rules)), ("Purpose", entry.purpose))
    elif entry.kind is AuditKind.CONSULTATION:
        summary = f"Read ({details.get('what', 'record')})"
        facts = _facts(("Purpose", entry.purpose))
    elif entry.kind is AuditKind.ERASURE:
        summary = f"{event_type or 'Notification'} fields erased"
        facts = _facts(("Fields", entry.fields), ("Rule", ", ".join(entry.rules)))
    elif entry.kind in (AuditKind.ALTERATION, AuditKind.COMBINATION):
        summary = (entry.outcome or kind).replace("-", " ").capitalize()
        facts = _facts(("Fields", entry.fields), ("Purpose", entry.purpose))
    else:  # deliveries and acknowledgements: shown on their disclosure
        return None
    return TimelineRow(
        position=record.position,
        kind=kind,
        title=_TITLES[kind],
        at=_moment(entry.occurred_at),
        by=by,
        summary=summary,
        facts=facts,
    )


def _as_list(value: object) -> list[object]:
    return list(value) if isinstance(value, (list, tuple)) else ([] if value is None else [value])
