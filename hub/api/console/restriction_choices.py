"""What the DPO may choose from when restricting a person's subject access report: the grounds
of DPA 2018 s45(4), and the recipients and notification types the person's record names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hub.domain.audit.entries import AuditKind
from hub.services.audit_queries import GROUNDS, HistoryReport


@dataclass(frozen=True, slots=True)
class RestrictionChoices:
    #: (ground, what it protects), in the Act's order.
    grounds: tuple[tuple[str, str], ...]
    #: (recipient id, its name): every recipient the hub decided to tell, or not, about them.
    recipients: tuple[tuple[str, str], ...]
    #: Every notification type the hub holds about them.
    event_types: tuple[str, ...]


def restriction_choices(
    report: HistoryReport, recipient_names: Mapping[str, str]
) -> RestrictionChoices:
    """The choices for `report`'s person. A restriction may also cover none of these (then it
    covers everything shared)."""
    recipients = {
        record.entry.recipient_id
        for record in report.records
        if record.entry.kind is AuditKind.DISCLOSURE and record.entry.recipient_id
    }
    event_types = {
        str(event_type)
        for record in report.records
        if (event_type := record.entry.details.get("event_type"))
    }
    return RestrictionChoices(
        grounds=tuple(GROUNDS.items()),
        recipients=tuple(
            sorted(
                ((r, recipient_names.get(r, r)) for r in recipients),
                key=lambda pair: pair[1].casefold(),
            )
        ),
        event_types=tuple(sorted(event_types)),
    )
