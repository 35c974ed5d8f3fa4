"""The escalation the overdue monitor writes (`hub.services.overdue`), without I/O: a valid
`disclosure.overdue` notification that depends only on the disclosure, placed in the right
council area, and routed by the Scotland bundle to the MAPPA coordinator (and, when urgent or
placed nowhere, to Police Scotland national)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hub.domain.notifications import Publisher, StoredEvent
from hub.domain.person import PersonProfile, Status
from hub.domain.policy import PolicyBundle
from hub.domain.schemas import SchemaRegistry
from hub.services.overdue import (
    OVERDUE_EVENT_TYPE,
    OverdueDisclosure,
    OverdueMonitor,
    escalation_area,
)
from hub.settings import PROJECT_ROOT
from tests.unit.test_profile import example

SCHEMAS = SchemaRegistry.load(PROJECT_ROOT / "events")
BUNDLE = PolicyBundle.load(PROJECT_ROOT / "policies" / "scotland", SCHEMAS)
DIRECTORY = BUNDLE.directory
DECIDED = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)


def disclosure(recipient_id: str, event_type: str = "release.schedule1-notification") -> Any:
    event = StoredEvent(
        position=7,
        person_id="p_test",
        stream_version=2,
        notification=example(event_type),
        recorded_at=DECIDED,
        publisher=Publisher("pr2", "sps"),
    )
    return OverdueDisclosure(
        disclosure_id="d_0123456789abcdef0123456789abcdef",
        recipient_id=recipient_id,
        decided_at=DECIDED,
        acknowledge_within_seconds=2 * 86400,
        event=event,
    )


def profile(mappa_area: str, home_area: str) -> PersonProfile:
    mappa = Status("mappa", {"area": mappa_area, "level": 2}, position=3, set_by="mappa")
    return PersonProfile(person_id="p_test", position=7, statuses=(mappa,), home_area=home_area)


class NoIO:
    """The monitor's ports, never called by `escalation`."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"escalation() must not call {name}")


MONITOR = OverdueMonitor(NoIO(), NoIO(), NoIO(), SCHEMAS, DIRECTORY)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recipient", "person", "area"),
    [
        # A recipient serving one area: its own, wherever the person lives.
        ("sw-fife", dict(home_area="S12000049"), "S12000047"),
        ("hmp-barlinnie", None, "S12000049"),
        # A national recipient: the person's area, supervising area first.
        (
            "police-scotland",
            dict(home_area="S12000036", supervising_area="S12000047"),
            "S12000047",
        ),
        ("police-scotland", dict(release_area="S12000042"), "S12000042"),
        # A former code resolves to today's area.
        ("sps", dict(home_area="S12000046"), "S12000049"),
        # Nothing known about the person: the first area the recipient serves.
        ("police-scotland", None, "S12000005"),
        # An unknown recipient (not in the directory): the person's area, or nothing.
        ("gone-away", dict(mappa_area="S12000050"), "S12000050"),
        ("gone-away", None, None),
    ],
)
def test_the_escalation_is_placed_in_a_council_area(
    recipient: str, person: dict[str, Any] | None, area: str | None
) -> None:
    assert escalation_area(DIRECTORY, recipient, person) == area


def test_the_escalation_is_a_valid_notification_that_depends_only_on_the_disclosure() -> None:
    overdue = disclosure("sw-glasgow-city")
    person = profile(mappa_area="S12000049", home_area="S12000049")

    document = MONITOR.escalation(overdue, person)
    notification = SCHEMAS.validate(document)

    assert notification.type == OVERDUE_EVENT_TYPE
    assert notification.id == overdue.disclosure_id
    assert notification.time == DECIDED + timedelta(days=2)
    assert notification.identifiers == overdue.event.notification.identifiers
    assert notification.data == {
        "disclosure_id": overdue.disclosure_id,
        "recipient_id": "sw-glasgow-city",
        "event_type": "release.schedule1-notification",
        "event_id": overdue.event.notification.id,
        "event_source": overdue.event.notification.source,
        "decided_at": "2024-05-01T09:30:00+00:00",
        "acknowledge_within_seconds": 172800,
        "due_at": "2024-05-03T09:30:00+00:00",
        "council_area": "S12000049",
        "mappa_area": "S12000049",
    }
    # The same disclosure always gives the same notification: a retry is a duplicate.
    assert SCHEMAS.validate(MONITOR.escalation(overdue, person)).content_hash() == (
        notification.content_hash()
    )


def permitted(document: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    notification = SCHEMAS.validate(document)
    return {d.recipient_id: d.rules for d in BUNDLE.evaluate(notification, {}).permitted}


def test_an_escalation_with_no_area_reaches_police_scotland_national() -> None:
    document = MONITOR.escalation(disclosure("gone-away"), None)
    assert "council_area" not in document["data"]

    assert permitted(document) == {"police-scotland": ("overdue-urgent-to-police-national",)}


def test_an_unread_recall_reaches_the_coordinator_and_police_scotland_national() -> None:
    document = MONITOR.escalation(disclosure("sw-fife", "licence.recall"), None)

    assert permitted(document) == {
        "mappa-fife": ("overdue-to-mappa-coordinator",),
        "police-scotland": ("overdue-urgent-to-police-national",),
    }
    # No rule on escalations sets an acknowledgement time: they are never escalated in turn.
    rules = [rule for rule in BUNDLE.rules if OVERDUE_EVENT_TYPE in rule.on]
    assert rules
    assert all(rule.acknowledge_within is None for rule in rules)
