"""A person's history report as the rows of the console's timeline: each kind of entry titled
for what it is (a decision held for review is not a refusal), actors and agencies by name."""

from __future__ import annotations

from datetime import UTC, datetime

from hub.api.console.names import HUB_NAME, Names
from hub.api.console.timeline import timeline
from hub.domain.audit.entries import AuditEntry, AuditKind
from hub.domain.notifications import PersonIdentifier
from hub.services.audit_queries import AuditRecord, HistoryReport

AT = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
PERSON = "p_0123"
NAMES = Names(
    agencies={"sps": "Scottish Prison Service", "sw-glasgow-city": "Glasgow Social Work"},
    actors={"c_sps": "Prison system (Scottish Prison Service)"},
)


def _decision(outcome: str, **details: object) -> AuditEntry:
    return AuditEntry(
        kind=AuditKind.DISCLOSURE,
        occurred_at=AT,
        actor="hub",
        agency="hub",
        person_id=PERSON,
        event_id="e1",
        source="urn:pph:sps",
        recipient_id="sw-glasgow-city",
        fields=("data.release_date",),
        rules=("release-to-social-work",),
        purpose="supervision",
        legal_basis="s35(2)",
        outcome=outcome,
        details={"event_type": "release.schedule1-notification", "disclosure_id": "d1", **details},
    )


def _report(*entries: AuditEntry) -> HistoryReport:
    return HistoryReport(
        person_id=PERSON,
        identifiers=(PersonIdentifier("sps_number", "7000001"),),
        generated_at=AT,
        subject_access=False,
        records=tuple(AuditRecord(i + 1, None, e) for i, e in enumerate(entries)),
        restrictions=(),
        withheld=0,
    )


def test_each_kind_is_titled_for_what_it_is_with_names_not_ids() -> None:
    collected = AuditEntry(
        kind=AuditKind.COLLECTION,
        occurred_at=AT,
        actor="c_sps",
        agency="sps",
        person_id=PERSON,
        fields=("data.release_date",),
        outcome="stored",
        details={"event_type": "custody.admission"},
    )
    rows = timeline(
        _report(
            collected,
            _decision("disclosed"),
            _decision("denied", reasons=["no permit rule names this recipient"]),
            _decision("proposed", reviewers=["sw-glasgow-city"]),
            _decision("review-declined"),
        ),
        NAMES,
    )
    assert [r.title for r in rows] == [
        "Collected",
        "Disclosed",
        "Refused",
        "Held for review",
        "Reviewed",
    ]
    assert rows[0].by == "Prison system (Scottish Prison Service)"
    assert rows[1].by == HUB_NAME
    assert rows[1].summary == "release.schedule1-notification disclosed to Glasgow Social Work"
    facts = {f.label: f.value for f in rows[1].facts}
    assert facts["Legal basis"] == "s35(2)"
    assert facts["Delivered"] == "not yet"
    assert {f.label: f.value for f in rows[2].facts}["Why"] == (
        "no permit rule names this recipient"
    )
    assert {f.label: f.value for f in rows[3].facts}["Reviewers"] == "Glasgow Social Work"
    assert rows[4].summary.endswith(": declined")


def test_delivery_and_acknowledgement_show_on_their_disclosure_not_as_rows() -> None:
    delivered = AuditEntry(
        kind=AuditKind.DELIVERY,
        occurred_at=AT,
        actor="hub",
        agency="hub",
        person_id=PERSON,
        recipient_id="sw-glasgow-city",
        outcome="webhook",
        state="delivered",
        details={"disclosure_id": "d1"},
    )
    acknowledged = AuditEntry(
        kind=AuditKind.ACKNOWLEDGEMENT,
        occurred_at=AT,
        actor="c_glasgow",
        agency="sw-glasgow-city",
        person_id=PERSON,
        recipient_id="sw-glasgow-city",
        outcome="acknowledged",
        state="acknowledged",
        details={"disclosure_id": "d1"},
    )
    [row] = timeline(_report(_decision("disclosed"), delivered, acknowledged), NAMES)
    facts = {f.label: f.value for f in row.facts}
    assert facts["Delivered"] == "yes"
    assert facts["Acknowledged"] == "07 Dec 2026 09:30:00 UTC"
