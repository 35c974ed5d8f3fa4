"""Issue 14's "What was found", through the running hub on both backends with the Scotland
bundle: notifications pushed over the API by the agencies that send them, each recipient's share
read from what the router decided for it. Each test names the finding it checks."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.infra import tables
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, example, running_hub
from tests.integration.feed_helpers import disclosures_to, push, routed, rows

NOT_REGISTERED = {"schedule1_offender": False, "sex_offender_notification": False}


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


class Person:
    """Notifications about one new person, each from its example, with its own id."""

    def __init__(self) -> None:
        n = uuid.uuid4().int % 1_000_000
        self.identifiers = {"sps_number": str(6_000_000 + n), "pnc_id": f"23/{n:07d}M"}

    def notification(self, event_type: str, time: str | None = None, **data: Any) -> dict[str, Any]:
        notification = example(event_type)
        notification["id"] = str(uuid.uuid4())
        if time is not None:
            notification["time"] = time
        notification["identifiers"] = dict(self.identifiers)
        notification["data"].update(data)
        return notification


async def rules_for(hub: RunningHub, recipient: str, notification: dict[str, Any]) -> list[str]:
    """The rules that disclosed `notification` to `recipient`; empty when it was not."""
    for row in await disclosures_to(hub, recipient):
        if row["event_id"] == notification["id"]:
            rules: list[str] = row["rules"]
            return rules
    return []


async def denied_to(hub: RunningHub, notification: dict[str, Any]) -> set[str]:
    """The recipients that were considered for `notification` and denied it."""
    denials = tables.disclosure_denials
    found = await rows(
        hub, sa.select(denials.c.recipient_id).where(denials.c.event_id == notification["id"])
    )
    return {row["recipient_id"] for row in found}


@pytest.mark.asyncio
async def test_statuses_never_end_a_short_violent_sentence_sends_no_liberation_to_police(
    hub: RunningHub,
) -> None:
    person = Person()
    admission = person.notification(
        "custody.admission",
        committing_court="Glasgow Sheriff Court",
        offence_categories=["violent"],
        sentence={
            "type": "short-term-determinate",
            "sentence_date": "2021-03-12",
            "custodial_term": {"months": 4},
            "sentencing_court": "Glasgow Sheriff Court",
        },
        **NOT_REGISTERED,
    )
    liberation = person.notification(
        "custody.liberation",
        "2021-05-11T08:05:00Z",
        liberation_date="2021-05-11",
        release_type="end-of-sentence",
    )
    await push(hub, await hub.token("sps"), [admission, liberation])
    await routed(hub)

    # Considered (the sex offender / MAPPA liberation rule names them) and denied: no status.
    assert {"police-division-g", "police-scotland"} <= await denied_to(hub, liberation)
    assert await rules_for(hub, "police-division-g", liberation) == []
    assert await rules_for(hub, "police-scotland", liberation) == []


@pytest.mark.asyncio
async def test_a_weaker_source_never_overwrites_a_stronger_one_pr2_marker_n_after_visor(
    hub: RunningHub,
) -> None:
    person = Person()
    registered = person.notification("sex-offender.registered")
    admission = person.notification(
        "custody.admission",
        "2025-01-20T16:40:00Z",
        admission_date="2025-01-20",
        admission_reason="remand",
        offence_categories=["dishonesty"],
        **NOT_REGISTERED,
    )
    del admission["data"]["sentence"]
    await push(hub, await hub.token("police-scotland"), [registered])
    await push(hub, await hub.token("sps"), [admission])
    await routed(hub)

    assert "custody-admission-registered-or-orosh-to-visor" in await rules_for(
        hub, "police-scotland", admission
    )
    assert "custody-admission-to-home-area-police" in await rules_for(
        hub, "police-division-g", admission
    )


@pytest.mark.asyncio
async def test_the_breach_to_recall_loop_closes_through_the_scottish_ministers(
    hub: RunningHub,
) -> None:
    person = Person()
    admission = person.notification("custody.admission")
    liberation = person.notification("custody.liberation")
    breach = person.notification("licence.breach-reported")
    recall = person.notification("licence.recall")
    decision = person.notification("parole.decision", decision="confirm-recall")
    await push(hub, await hub.token("sps"), [admission, liberation])
    await push(hub, await hub.token("sw-glasgow-city"), [breach])
    await push(hub, await hub.token("scottish-ministers"), [recall])
    await push(hub, await hub.token("parole-board-scotland"), [decision])
    await routed(hub)

    # The supervising social worker's breach report reaches the Ministers, who recall ...
    assert await rules_for(hub, "scottish-ministers", breach) == [
        "licence-breach-recall-recommended-to-licensing-authority"
    ]
    assert await rules_for(hub, "parole-board-scotland", breach) == []  # Ministers refer
    # ... their recall reaches the supervising council and the Board ...
    assert "recall-to-supervising-social-work" in await rules_for(hub, "sw-glasgow-city", recall)
    assert "recall-to-parole-board" in await rules_for(hub, "parole-board-scotland", recall)
    # ... and the Board's decision on it comes back to the Ministers and the supervising council.
    assert await rules_for(hub, "scottish-ministers", decision) == [
        "parole-decision-to-licensing-authority"
    ]
    assert "parole-decision-to-supervising-social-work" in await rules_for(
        hub, "sw-glasgow-city", decision
    )


@pytest.mark.asyncio
async def test_no_court_events_a_trial_judges_report_follows_the_person_into_the_prison(
    hub: RunningHub,
) -> None:
    """Report 4.11: trial judges' reports reached the prison years late or never. The court's
    disposal names the prison it commits the person to; the person is admitted elsewhere."""
    person = Person()
    disposal = person.notification("court.disposal")
    admission = person.notification(
        "custody.admission", "2021-03-12T18:00:00Z", establishment="hmp-low-moss"
    )
    await push(hub, await hub.token("scts"), [disposal])
    position = await push(hub, await hub.token("sps"), [admission])
    await routed(hub)

    assert await rules_for(hub, "hmp-barlinnie", disposal) == [
        "court-disposal-trial-judge-report-to-receiving-establishment"
    ]
    [followed] = [
        row
        for row in await disclosures_to(hub, "hmp-low-moss")
        if row["event_id"] == disposal["id"]
    ]
    assert followed["rules"] == ["court-disposal-trial-judge-report-follows-person"]
    assert followed["trigger_position"] == position
    assert "identifiers.sps_number" in followed["fields"]
