"""Records that follow the person carry the identifiers the receiving establishment can match,
on both backends (issue 14): a risk assessment pushed by social work with only a PNC ID and its
own client id reaches the prison that receives the person with the person's SPS number, taken
from the person index; the disclosure records what the hub supplied, and every channel (the
feed, one disclosure, a webhook) delivers it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from standardwebhooks import Webhook

from hub.domain.cloudevents import identifiers_of
from hub.infra import tables
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import assessment_then_admission, rows
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio

PRISON = "hmp-barlinnie"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(
        update={
            "router_poll_interval": 0.05,
            "delivery_poll_interval": 0.05,
            "webhook_allow_private_addresses": True,
            "overdue_check_interval": 3600.0,
        }
    )
    async with running_hub(settings) as running:
        yield running


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


async def prison_items(hub: RunningHub, event_type: str) -> list[dict[str, Any]]:
    token = await hub.token(PRISON, "feed:read")
    answer = await hub.http.get("/v1/feed", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    return [i for i in answer.json()["items"] if i["event_type"] == event_type]


async def test_a_social_work_risk_assessment_reaches_the_prison_with_its_sps_number(
    hub: RunningHub,
) -> None:
    assessment, sps = await assessment_then_admission(hub)

    [item] = await prison_items(hub, "risk.assessment-recorded")
    # The rule grants identifiers.sps_number: the prison can match the record on its own number;
    # the PNC ID and the council's client id, not granted, stay out.
    assert identifiers_of(item["notification"]) == {"sps_number": sps}
    assert item["notification"]["pphspsnumber"] == sps  # a CloudEvents string extension
    assert item["notification"]["id"] == assessment["id"]
    assert "identifiers.sps_number" in item["fields"]

    # The disclosure records what the hub supplied, beside what it granted.
    [row] = await rows(
        hub,
        sa.select(tables.disclosures).where(
            tables.disclosures.c.event_id == assessment["id"],
            tables.disclosures.c.recipient_id == PRISON,
        ),
    )
    assert row["supplied_identifiers"] == {"sps_number": sps}
    assert row["trigger_position"] > row["event_position"]

    # One disclosure, read on its own, says the same.
    token = await hub.token(PRISON, "feed:read")
    one = await hub.http.get(f"/v1/disclosures/{item['disclosure_id']}", headers=bearer(token))
    assert one.status_code == 200, one.text
    assert identifiers_of(one.json()["notification"]) == {"sps_number": sps}

    # The stored notification is as social work sent it: the hub adds, never rewrites.
    stored = await hub.container.store.get(assessment["source"], assessment["id"])
    assert stored is not None
    assert {i.scheme for i in stored.notification.identifiers} == {"pnc_id", "sw_client_id"}


async def test_disclosures_of_a_notification_as_it_arrives_are_not_supplemented(
    hub: RunningHub,
) -> None:
    await assessment_then_admission(hub)
    found = await rows(hub, sa.select(tables.disclosures))
    first_hand = [r for r in found if r["trigger_position"] == r["event_position"]]
    assert first_hand, "nothing was disclosed as it arrived"
    assert all(r["supplied_identifiers"] is None for r in first_hand)


async def test_the_prisons_webhook_carries_the_sps_number(
    hub: RunningHub, receiver: Receiver
) -> None:
    headers = bearer(await hub.token(PRISON, "subscriptions:manage"))
    answer = await hub.http.post(
        "/v1/subscriptions",
        json={"url": receiver.url("/barlinnie"), "event_types": ["risk.assessment-recorded"]},
        headers=headers,
    )
    assert answer.status_code == 201, answer.text
    secret = answer.json()["secret"]

    assessment, sps = await assessment_then_admission(hub)

    await receiver.wait_for(lambda: bool(receiver.at("/barlinnie")), within=30.0)
    (arrived,) = receiver.at("/barlinnie")
    body = Webhook(secret).verify(arrived.body, arrived.headers)["data"]
    assert body["notification"]["id"] == assessment["id"]
    # Payload version 2's notification is a CloudEvent: identifiers as `pph*` extensions.
    assert identifiers_of(body["notification"]) == {"sps_number": sps}
