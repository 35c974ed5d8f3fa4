"""Areas follow the person, through the running hub on each backend (issue 14, "Moves are
invisible"): notifications pushed by their real publishers, routed by the Scotland bundle, read
from the recipients' feeds. After a move the new area's police, social work and child protection
receive what concerns the person; the area left receives only that they left, with no address.
A registration follows the person into custody while the requirements last, whatever PR2's own
marker says."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.feed_helpers import disclosures_to, push, routed

GLASGOW, RENFREWSHIRE = "S12000049", "S12000038"
_people = itertools.count(1)


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


class Person:
    """One made-up person: every notification about them carries the same identifiers."""

    def __init__(self) -> None:
        n = next(_people)
        self.identifiers = {"sps_number": str(5_100_000 + n), "pnc_id": f"22/{n:07d}M"}

    def notification(self, event_type: str, **changes: Any) -> dict[str, Any]:
        """The example of `event_type` about this person, with dotted paths changed."""
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        notification["identifiers"] = dict(self.identifiers)
        for path, value in changes.items():
            node = notification
            *parents, last = path.split(".")
            for key in parents:
                node = node[key]
            node[last] = value
        return notification


async def publish(hub: RunningHub, agency: str, *notifications: dict[str, Any]) -> None:
    await push(hub, await hub.token(agency, "events:publish"), notifications)


async def feed(hub: RunningHub, recipient: str) -> list[dict[str, Any]]:
    """Everything in the recipient's feed, as the recipient reads it."""
    token = await hub.token(recipient, "feed:read")
    answer = await hub.http.get("/v1/feed", params={"limit": 100}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def types_to(hub: RunningHub, recipient: str) -> list[str]:
    return [d["event_type"] for d in await disclosures_to(hub, recipient)]


async def released_to_glasgow(hub: RunningHub, person: Person) -> None:
    """A Schedule 1 sex offender, admitted in 2021, released on parole licence to Glasgow in
    2023 (supervised by Glasgow City until 2026-09-11)."""
    await publish(
        hub,
        "sps",
        person.notification("custody.admission"),
        person.notification("custody.liberation"),
    )


@pytest.mark.asyncio
async def test_after_a_move_the_new_area_is_told_and_the_old_only_that_the_person_left(
    hub: RunningHub,
) -> None:
    person = Person()
    await released_to_glasgow(hub, person)
    await publish(
        hub,
        "sw-glasgow-city",
        person.notification("person.address-changed"),  # to Renfrewshire, 2025-08-01
        person.notification("supervision.transferred"),  # Glasgow -> Renfrewshire, 2025-08-18
    )
    await publish(
        hub,
        "police-scotland",
        person.notification(
            "person.missing",
            time="2025-09-02T09:10:00+01:00",
            **{
                "data.missing_since": "2025-09-01T18:00:00+01:00",
                "data.reported_at": "2025-09-02T09:10:00+01:00",
                "data.last_known_location.council_area": RENFREWSHIRE,
                "data.police_division": "K",
            },
        ),
    )
    await routed(hub)

    # The new area: the move in full, then the missing notice.
    assert await types_to(hub, "police-division-k") == [
        "person.address-changed",
        "supervision.transferred",
        "person.missing",
    ]
    assert await types_to(hub, "cp-renfrewshire") == ["person.address-changed", "person.missing"]
    assert await types_to(hub, "sw-renfrewshire") == [
        "person.address-changed",
        "supervision.transferred",
        "person.missing",
    ]
    [moved, *_] = await feed(hub, "police-division-k")
    assert moved["notification"]["data"]["new_address"]["council_area"] == RENFREWSHIRE

    # The old area: what it had before the move, then only that the person left; no missing notice.
    police_g = await feed(hub, "police-division-g")
    assert [i["event_type"] for i in police_g] == ["custody.liberation", "person.address-changed"]
    left = police_g[-1]
    assert left["rules"] == ["address-changed-left-area-to-police-and-social-work"]
    assert left["notification"]["data"] == {"effective_date": "2025-08-01"}
    assert left["notification"].get("identifiers", {}) == {}
    cp_g = await feed(hub, "cp-glasgow-city")
    assert [i["event_type"] for i in cp_g] == ["custody.liberation", "person.address-changed"]
    assert cp_g[-1]["notification"]["data"] == {"effective_date": "2025-08-01"}
    # Glasgow supervised until the transfer: it had the new address as supervisor, then only that
    # the case has gone, and nothing after.
    sw_g = await feed(hub, "sw-glasgow-city")
    assert [i["event_type"] for i in sw_g][-2:] == [
        "person.address-changed",
        "supervision.transferred",
    ]
    assert sw_g[-1]["notification"]["data"] == {"effective_date": "2025-08-18"}


@pytest.mark.asyncio
async def test_a_registered_change_of_address_moves_the_person_for_later_notices(
    hub: RunningHub,
) -> None:
    person = Person()
    await released_to_glasgow(hub, person)
    await publish(
        hub,
        "police-scotland",
        person.notification("sex-offender.registered"),  # Glasgow, 2023-12-14
        person.notification("sex-offender.notification-changed"),  # to Renfrewshire, 2025-08-04
        person.notification(
            "risk.assessment-recorded",
            time="2025-09-10T11:00:00+01:00",
            **{"data.assessment_date": "2025-09-10"},
        ),
    )
    await routed(hub)

    assert await types_to(hub, "police-division-k") == [
        "sex-offender.notification-changed",
        "risk.assessment-recorded",
    ]
    changed, assessed = await feed(hub, "police-division-k")
    assert changed["notification"]["data"]["address"]["council_area"] == RENFREWSHIRE
    assert "risk-assessment-sex-offender-to-police" in assessed["rules"]

    police_g = await feed(hub, "police-division-g")
    assert [i["event_type"] for i in police_g] == [
        "custody.liberation",
        "sex-offender.registered",
        "sex-offender.notification-changed",
    ]
    left = police_g[-1]
    assert left["rules"] == ["notification-address-left-area-to-police-and-social-work"]
    assert left["notification"]["data"] == {"change": "address", "notified_date": "2025-08-04"}
    # ViSOR has the whole record, at the new address.
    visor = [i["event_type"] for i in await feed(hub, "police-scotland")]
    assert visor[-2:] == ["sex-offender.notification-changed", "risk.assessment-recorded"]


@pytest.mark.asyncio
async def test_a_registration_follows_the_person_into_custody_while_the_requirements_last(
    hub: RunningHub,
) -> None:
    registered, ended = Person(), Person()
    for person in (registered, ended):
        await released_to_glasgow(hub, person)
        await publish(hub, "police-scotland", person.notification("sex-offender.registered"))
    await publish(
        hub,
        "police-scotland",
        ended.notification(
            "sex-offender.requirements-ended",
            time="2025-06-10T11:00:00Z",
            **{"data.end_date": "2025-06-10", "data.reason": "conviction-quashed"},
        ),
    )
    for person in (registered, ended):
        # Remanded in 2026; PR2's marker says "not registered" for both (report 4.13).
        await publish(
            hub,
            "sps",
            person.notification(
                "custody.admission",
                time="2026-01-10T16:40:00Z",
                **{
                    "data.admission_date": "2026-01-10",
                    "data.admission_reason": "remand",
                    "data.sex_offender_notification": False,
                },
            ),
        )
    await routed(hub)

    followed = [
        d
        for d in await disclosures_to(hub, "hmp-barlinnie")
        if d["event_type"] == "sex-offender.registered"
    ]
    # Only the registration still in force follows, judged as of the admission, without the address.
    assert [d["rules"] for d in followed] == [["registration-follows-person"]]
    [item] = [
        i for i in await feed(hub, "hmp-barlinnie") if i["event_type"] == "sex-offender.registered"
    ]
    assert item["person_id"] == followed[0]["person_id"]
    assert "address" not in item["notification"]["data"]
    assert item["notification"]["data"]["indefinite"] is True
    admitted = [
        i
        for i in await feed(hub, "hmp-barlinnie")
        if i["event_type"] == "custody.admission" and i["person_id"] == item["person_id"]
    ]
    assert len(admitted) == 2  # 2021 sentence and 2026 remand: the same person
