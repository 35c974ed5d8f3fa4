"""The overdue monitor on both backends: every disclosure not acknowledged in time is escalated
exactly once as a `disclosure.overdue` notification — run twice, run by two monitors at once, or
retried after a crash between the append and its record — and the router sends it to the MAPPA
coordinator. Time travels through the monitor's clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa

from hub.domain.notifications import HUB_WRITTEN_TYPES
from hub.infra import tables
from hub.services.overdue import (
    OVERDUE_EVENT_TYPE,
    OVERDUE_PUBLISHER,
    OVERDUE_SOURCE,
    OverdueMonitor,
)
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.feed_helpers import about_new_person, push, routed, rows

STORY = ("custody.admission", "release.schedule1-notification")
GLASGOW_SW = "sw-glasgow-city"


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    # The in-process monitor is off: each test runs its own, with a clock of its choosing.
    settings = database.settings.model_copy(
        update={"router_poll_interval": 0.05, "delivery_enabled": False}
    )
    async with running_hub(settings) as running:
        yield running


def monitor(
    hub: RunningHub, clock: Callable[[], datetime], batch_size: int = 100
) -> OverdueMonitor:
    c = hub.container
    return OverdueMonitor(
        c.store,
        c.overdue,
        c.routing,
        c.schemas,
        c.policy.directory,
        batch_size=batch_size,
        clock=clock,
        on_appended=c.appended.set,
    )


def days_later(days: float) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(days=days)


async def escalations(hub: RunningHub) -> list[dict[str, Any]]:
    e = tables.events
    return await rows(
        hub, sa.select(e).where(e.c.type == OVERDUE_EVENT_TYPE).order_by(e.c.position)
    )


async def due(hub: RunningHub) -> set[str]:
    """Disclosures with an acknowledgement time, not acknowledged (escalations aside)."""
    d, a = tables.disclosures, tables.disclosure_acks
    found = await rows(
        hub,
        sa.select(d.c.disclosure_id)
        .outerjoin(a, a.c.disclosure_id == d.c.disclosure_id)
        .where(
            d.c.acknowledge_within_seconds.is_not(None),
            a.c.disclosure_id.is_(None),
            d.c.event_type != OVERDUE_EVENT_TYPE,
        ),
    )
    return {row["disclosure_id"] for row in found}


async def story_with_one_acknowledged(hub: RunningHub) -> str:
    """Two people's stories routed; Glasgow social work acknowledges its first disclosure."""
    publisher = await hub.token("sps")
    for _ in range(2):
        await push(hub, publisher, about_new_person(STORY))
    await routed(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    [first, *_] = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    acked = await hub.http.post(
        f"/v1/disclosures/{first['disclosure_id']}/ack", headers=bearer(reader)
    )
    assert acked.status_code == 201
    acknowledged: str = first["disclosure_id"]
    return acknowledged


@pytest.mark.asyncio
async def test_nothing_is_escalated_before_it_is_due(hub: RunningHub) -> None:
    await story_with_one_acknowledged(hub)

    assert await monitor(hub, days_later(0)).run_once() == 0
    # The shortest time in this story is a day (the 1d rules): half a day on, nothing yet.
    assert await monitor(hub, days_later(0.5)).run_once() == 0
    assert await escalations(hub) == []


@pytest.mark.asyncio
async def test_each_overdue_disclosure_is_escalated_once_even_when_run_twice(
    hub: RunningHub,
) -> None:
    acknowledged = await story_with_one_acknowledged(hub)
    overdue = await due(hub)
    assert overdue
    assert acknowledged not in overdue

    first = await monitor(hub, days_later(30), batch_size=3).run_once()
    second = await monitor(hub, days_later(31)).run_once()

    assert first == len(overdue)
    assert second == 0
    stored = await escalations(hub)
    assert sorted(e["event_id"] for e in stored) == sorted(overdue)
    assert {e["source"] for e in stored} == {OVERDUE_SOURCE}
    assert {e["publisher_client_id"] for e in stored} == {OVERDUE_PUBLISHER.client_id}
    recorded = await rows(hub, sa.select(tables.overdue_escalations))
    assert sorted((r["disclosure_id"], r["event_id"]) for r in recorded) == sorted(
        (d, d) for d in overdue
    )
    # Each escalation is about the person the overdue notification was about, with its
    # identifiers, and names the disclosure without any of its content.
    decided = {d["disclosure_id"]: d for d in await rows(hub, sa.select(tables.disclosures))}
    for event in stored:
        disclosure = decided[event["event_id"]]
        assert event["person_id"] == disclosure["person_id"]
        data = event["data"]
        assert data["recipient_id"] == disclosure["recipient_id"]
        assert data["event_type"] == disclosure["event_type"]
        assert data["event_id"] == disclosure["event_id"]
        assert "release" not in data
        assert "schedule1_offences" not in data


@pytest.mark.asyncio
async def test_two_monitors_at_once_escalate_each_disclosure_once(hub: RunningHub) -> None:
    await story_with_one_acknowledged(hub)
    overdue = await due(hub)

    recorded = await asyncio.gather(
        *(monitor(hub, days_later(30), batch_size=2).run_once() for _ in range(4))
    )

    assert sum(recorded) == len(overdue)
    assert sorted(e["event_id"] for e in await escalations(hub)) == sorted(overdue)
    assert len(await rows(hub, sa.select(tables.overdue_escalations))) == len(overdue)


@pytest.mark.asyncio
async def test_a_retry_after_a_crash_between_append_and_record_is_a_duplicate(
    hub: RunningHub,
) -> None:
    await story_with_one_acknowledged(hub)
    overdue = await due(hub)
    watcher = monitor(hub, days_later(30))
    # The crash: the escalation of one disclosure was appended, and the process died before
    # it recorded it in overdue_escalations.
    [crashed, *_] = await hub.container.overdue.overdue(days_later(30)(), limit=1)
    profiles = await hub.container.routing.profiles({crashed.event.person_id})
    document = watcher.escalation(crashed, profiles.get(crashed.event.person_id))
    notification = hub.container.schemas.validate(document)
    await hub.container.store.append([notification], publisher=OVERDUE_PUBLISHER)

    assert await watcher.run_once() == len(overdue)

    assert sorted(e["event_id"] for e in await escalations(hub)) == sorted(overdue)


@pytest.mark.asyncio
async def test_the_router_sends_an_escalation_to_the_mappa_coordinator(hub: RunningHub) -> None:
    acknowledged = await story_with_one_acknowledged(hub)
    overdue = await due(hub)
    await monitor(hub, days_later(30)).run_once()
    await routed(hub)

    coordinator = await hub.token("mappa-glasgow", "feed:read")
    items = (await hub.http.get("/v1/feed", headers=bearer(coordinator))).json()["items"]

    escalated = {i["notification"]["data"]["disclosure_id"]: i for i in items}
    # Every recipient in this story serves Glasgow, or the person lives there.
    assert set(escalated) == overdue
    assert acknowledged not in escalated
    item = next(iter(escalated.values()))
    assert item["event_type"] == OVERDUE_EVENT_TYPE
    assert item["rules"] == ["overdue-to-mappa-coordinator"]
    assert item["acknowledge_by"] is None  # an escalation is not itself escalated
    assert item["notification"]["data"]["council_area"] == "S12000049"
    assert "pphspsnumber" in item["notification"]  # the SPS number, a CloudEvents extension
    # A release notice is not urgent for police national; nor is anything escalated twice.
    police = await hub.token("police-scotland", "feed:read")
    police_items = (await hub.http.get("/v1/feed", headers=bearer(police))).json()["items"]
    assert OVERDUE_EVENT_TYPE not in {i["event_type"] for i in police_items}
    assert await monitor(hub, days_later(60)).run_once() == 0


@pytest.mark.asyncio
async def test_an_agency_cannot_push_an_escalation(hub: RunningHub) -> None:
    token = await hub.token("sps")
    before = await hub.snapshot()

    for event_type in sorted(HUB_WRITTEN_TYPES):
        one = await hub.http.post("/v1/events", json=example(event_type), headers=bearer(token))
        batch = await hub.http.post(
            "/v1/events/batch", json=[example(event_type)], headers=bearer(token)
        )
        assert one.status_code == 422, one.text
        assert [e["pointer"] for e in one.json()["errors"]] == ["/type"]
        assert batch.status_code == 422, batch.text
        assert [e["pointer"] for e in batch.json()["errors"]] == ["/0/type"]
    assert await hub.snapshot() == before
