"""A licence ends (issue 14, "Statuses never end"), through the running hub on both backends with
the Scotland bundle: once a licence has ended, by its expiry date passing or by a `licence.expired`
notice, notifications dated after the end no longer reach the council that supervised it, while
they still reach everyone else the rules name. Notifications are pushed over the API and the
supervising council reads its own feed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.feed_helpers import disclosures_to, push, routed

SUPERVISING_COUNCIL = "sw-glasgow-city"
GLASGOW = "S12000049"
#: The example liberation puts the person on a parole licence to 2026-09-11, supervised by Glasgow.
LICENCE_EXPIRY = "2026-09-11"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


class Person:
    """Notifications about one new person, each from its example, with its own id."""

    def __init__(self) -> None:
        n = uuid.uuid4().int % 1_000_000
        self.identifiers = {"sps_number": str(5_000_000 + n), "pnc_id": f"22/{n:07d}L"}

    def notification(self, event_type: str, time: str, **data: Any) -> dict[str, Any]:
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        notification["time"] = time
        notification["identifiers"] = dict(self.identifiers)
        notification["data"].update(data)
        return notification

    def risk_assessment(self, date: str) -> dict[str, Any]:
        return self.notification(
            "risk.assessment-recorded",
            f"{date}T11:00:00Z",
            assessment_date=date,
            next_review_date=f"{int(date[:4]) + 1}{date[4:]}",
        )

    def released_on_licence(self) -> list[dict[str, Any]]:
        """Admitted on sentence (a registered sex offender and Schedule 1 offender, so police
        go on receiving notices about them), then liberated on the example's parole licence."""
        admission = self.notification("custody.admission", "2021-03-12T16:40:00Z")
        liberation = self.notification("custody.liberation", "2023-12-12T08:05:00Z")
        assert liberation["data"]["licence"]["expiry_date"] == LICENCE_EXPIRY
        assert liberation["data"]["supervising_council_area"] == GLASGOW
        return [admission, liberation]


async def received(hub: RunningHub, recipient: str) -> set[str]:
    """The ids of the notifications `recipient` reads in its own feed."""
    token = await hub.token(recipient, "feed:read")
    answer = await hub.http.get("/v1/feed", params={"limit": 100}, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return {item["notification"]["id"] for item in answer.json()["items"]}


async def decided_for(hub: RunningHub, recipient: str) -> set[str]:
    return {row["event_id"] for row in await disclosures_to(hub, recipient)}


@pytest.mark.asyncio
async def test_after_the_expiry_date_notices_no_longer_reach_the_supervising_council(
    hub: RunningHub,
) -> None:
    person = Person()
    admission, liberation = person.released_on_licence()
    during = person.risk_assessment("2025-06-01")
    after = person.risk_assessment("2026-11-20")
    # The finding: a parolee whose licence ended in 2026, remanded years later.
    remand = person.notification(
        "custody.admission",
        "2031-04-14T10:30:00+01:00",
        admission_date="2031-04-14",
        admission_reason="remand",
        offence_categories=["dishonesty"],
        schedule1_offender=False,
        sex_offender_notification=False,
    )
    del remand["data"]["sentence"]
    await push(hub, await hub.token("sps"), [admission, liberation])
    await push(hub, await hub.token("police-scotland"), [during, after])
    await push(hub, await hub.token("sps"), [remand])
    await routed(hub)

    feed = await received(hub, SUPERVISING_COUNCIL)

    assert liberation["id"] in feed
    assert during["id"] in feed  # the licence runs until 2026-09-11
    assert after["id"] not in feed
    assert remand["id"] not in feed
    assert await decided_for(hub, SUPERVISING_COUNCIL) == feed
    # Still routed: the police of the home area get the later assessment (a registered sex
    # offender), and the prison gets the remand. Only the ended supervision stopped.
    assert after["id"] in await decided_for(hub, "police-division-g")
    assert remand["id"] in await decided_for(hub, "hmp-barlinnie")


@pytest.mark.asyncio
async def test_a_licence_expired_notice_ends_the_supervision_before_the_licences_own_date(
    hub: RunningHub,
) -> None:
    person = Person()
    admission, liberation = person.released_on_licence()
    before = person.risk_assessment("2024-06-03")
    expired = person.notification(
        "licence.expired",
        "2025-01-06T09:00:00Z",
        expiry_date="2025-01-05",
        licence_type="parole",
        supervising_council_area=GLASGOW,
    )
    after = person.risk_assessment("2025-03-20")
    await push(hub, await hub.token("sps"), [admission, liberation])
    await push(hub, await hub.token("police-scotland"), [before])
    await push(hub, await hub.token("scottish-ministers"), [expired])
    await push(hub, await hub.token("police-scotland"), [after])
    await routed(hub)

    feed = await received(hub, SUPERVISING_COUNCIL)

    assert {liberation["id"], before["id"], expired["id"]} <= feed
    assert after["id"] not in feed  # dated before 2026-09-11, but the licence has ended
    assert after["id"] in await decided_for(hub, "police-division-g")
