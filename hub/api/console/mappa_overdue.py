"""The overdue acknowledgements of a MAPPA region, from the services the API uses: the
`disclosure.overdue` escalations the hub disclosed to the region's co-ordinator (the audit
trail's query, `AuditQueryService.find`, as `/v1/audit/query` runs it), each matched with the
disclosure it escalated (the person's disclosure entries: what was sent, to whom, under which
rule and legal basis) and that disclosure's moments (`LatencyService.of_disclosure`, as
`/v1/disclosures/{id}` reads them).

Every read is logged by the service as a consultation, with the co-ordinator as the actor and
the purpose they gave.
"""

from __future__ import annotations

from dataclasses import dataclass

from hub.bootstrap import Container
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.errors import NotFound
from hub.services.audit_queries import AuditQuery, Principal
from hub.services.latency import DisclosureTimes
from hub.services.overdue import OVERDUE_EVENT_TYPE

#: The most escalations one list shows (oldest first).
MAX_LISTED = 200


@dataclass(frozen=True, slots=True)
class OverdueItem:
    """A disclosure the hub escalated to the region as not acknowledged in time."""

    escalation: AuditEntry
    #: The escalated disclosure's own entry (None if the trail no longer holds it).
    disclosure: AuditEntry | None
    #: Its moments now (None if the disclosure is gone, e.g. erased).
    times: DisclosureTimes | None

    @property
    def disclosure_id(self) -> str:
        # An escalation's notification id is the id of the disclosure it escalates.
        return self.escalation.event_id or ""


def _is_escalation(entry: AuditEntry) -> bool:
    return entry.outcome == "disclosed" and entry.details.get("event_type") == OVERDUE_EVENT_TYPE


async def _item(
    container: Container, escalation: AuditEntry, principal: Principal, purpose: str
) -> OverdueItem:
    disclosure_id = escalation.event_id or ""
    disclosure: AuditEntry | None = None
    if escalation.person_id is not None:
        found = await container.audit_queries.find(
            AuditQuery(person_id=escalation.person_id, kinds=(AuditKind.DISCLOSURE,)),
            principal,
            purpose,
        )
        disclosure = next(
            (
                r.entry
                for r in found
                if r.entry.outcome == "disclosed"
                and r.entry.details.get("disclosure_id") == disclosure_id
            ),
            None,
        )
    times = None
    if disclosure is not None and disclosure.recipient_id is not None:
        try:
            times = await container.latency.of_disclosure(disclosure.recipient_id, disclosure_id)
        except NotFound:
            times = None
    return OverdueItem(escalation, disclosure, times)


async def overdue_in_region(
    container: Container, region: str, principal: Principal, purpose: str
) -> list[OverdueItem]:
    """The escalations disclosed to `region`, oldest first, with what each escalated."""
    found = await container.audit_queries.find(
        AuditQuery(recipient_id=region, kinds=(AuditKind.DISCLOSURE,), limit=1000),
        principal,
        purpose,
    )
    escalations = [r.entry for r in found if _is_escalation(r.entry)][:MAX_LISTED]
    return [await _item(container, e, principal, purpose) for e in escalations]


async def one_overdue(
    container: Container, region: str, disclosure_id: str, principal: Principal, purpose: str
) -> OverdueItem:
    """The escalated disclosure `disclosure_id`, if the hub escalated it to `region`; any
    other is not found (nothing about it is shown)."""
    found = await container.audit_queries.find(
        AuditQuery(recipient_id=region, event_id=disclosure_id, kinds=(AuditKind.DISCLOSURE,)),
        principal,
        purpose,
    )
    escalation = next((r.entry for r in found if _is_escalation(r.entry)), None)
    if escalation is None:
        raise NotFound(f"no overdue disclosure {disclosure_id!r} was escalated to {region}")
    return await _item(container, escalation, principal, purpose)
