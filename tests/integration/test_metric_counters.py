"""`/metrics`' running totals (migration 0021) on both backends: after a realistic run — pushes
and a duplicate push, routing, webhooks to a real HTTP receiver with a failure and a retry, a
dead letter replayed to a disclosure already received, feed reads twice, acknowledgements twice,
escalations routed on — every figure equals the full recount; the migration's backfill (after a
downgrade to 0020) gives the same figures; and `hub db recount-metrics` repairs what code older
than 0021 changed without counting during a rolling upgrade."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.api.delivery_metrics import DeliveryCollector
from hub.infra import tables
from hub.infra.db import migrate
from hub.infra.latency import SqlLatencyStore
from hub.services.latency import LATENCY_BUCKETS, DeliveryMetrics
from hub.services.overdue import OVERDUE_EVENT_TYPE, OverdueMonitor
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, example, running_hub
from tests.integration.cli_helpers import run_cli
from tests.integration.feed_helpers import about_new_person, push, routed, rows
from tests.integration.older_schema import schema_at
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio

SOCIAL_WORK = "sw-glasgow-city"
RELEASE = "release.schedule1-notification"
STORY = ("custody.admission", RELEASE)


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


def hub_settings(database: Database) -> Any:
    return database.settings.model_copy(
        update={
            "webhook_allow_private_addresses": True,
            "router_poll_interval": 0.05,
            "delivery_poll_interval": 0.05,
            "webhook_retry_schedule": (0.2, 0.2),
            "webhook_timeout_seconds": 3.0,
            # The in-process monitor is off: the run escalates with a clock of its own.
            "overdue_check_interval": 3600.0,
        }
    )


async def eventually(condition: Callable[[], Awaitable[bool]], within: float = 60.0) -> None:
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < within, "timed out"
        await asyncio.sleep(0.05)


async def count(hub: RunningHub, query: sa.Select[Any]) -> int:
    async with hub.container.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


def assert_agree(counted: DeliveryMetrics, scanned: DeliveryMetrics) -> None:
    """Every figure of the running totals equals the recount's; sums of seconds to a couple of
    milliseconds each (SQLite's `julianday` reads timestamps to the millisecond)."""
    assert counted.disclosures == scanned.disclosures
    assert counted.delivered == scanned.delivered
    assert counted.acknowledged == scanned.acknowledged
    assert counted.escalated == scanned.escalated
    assert counted.overdue_unacknowledged == scanned.overdue_unacknowledged
    for name in (
        "event_to_decision",
        "intake_to_decision",
        "decision_to_delivery",
        "decision_to_acknowledgement",
    ):
        mine, theirs = getattr(counted, name), getattr(scanned, name)
        assert mine.buckets == theirs.buckets, name
        assert set(mine.series) == set(theirs.series), name
        for key, series in mine.series.items():
            other = theirs.series[key]
            assert (series.cumulative, series.count) == (other.cumulative, other.count), (name, key)
            assert series.total == pytest.approx(other.total, rel=1e-6, abs=2e-3 * series.count), (
                name,
                key,
            )


async def both(store: SqlLatencyStore, now: datetime) -> tuple[DeliveryMetrics, DeliveryMetrics]:
    return (
        await store.metrics(now, LATENCY_BUCKETS),
        await store.scanned_metrics(now, LATENCY_BUCKETS),
    )


async def assert_agree_now_and_later(store: SqlLatencyStore) -> DeliveryMetrics:
    """Agree now and when every acknowledgement time has passed (the overdue gauge); the
    totals as counted now."""
    now = datetime.now(UTC)
    counted, scanned = await both(store, now)
    assert_agree(counted, scanned)
    assert_agree(*(await both(store, now + timedelta(days=400))))
    return counted


def exposition(snapshot: DeliveryMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(DeliveryCollector(snapshot))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def monitor(hub: RunningHub, days: float) -> OverdueMonitor:
    c = hub.container
    return OverdueMonitor(
        c.store,
        c.overdue,
        c.routing,
        c.schemas,
        c.policy.directory,
        clock=lambda: datetime.now(UTC) + timedelta(days=days),
        on_appended=c.appended.set,
    )


async def subscribe(hub: RunningHub, url: str) -> dict[str, str]:
    headers = bearer(await hub.token(SOCIAL_WORK, "subscriptions:manage"))
    answer = await hub.http.post("/v1/subscriptions", json={"url": url}, headers=headers)
    assert answer.status_code == 201, answer.text
    return headers


def release() -> dict[str, Any]:
    notification = example(RELEASE)
    notification["id"] = str(uuid.uuid4())
    notification["identifiers"]["sps_number"] = str(uuid.uuid4().int % 10_000_000)
    notification["identifiers"].pop("pnc_id")
    notification["identifiers"].pop("sw_client_id")
    return notification


async def realistic_run(hub: RunningHub, receiver: Receiver) -> None:
    """Everything `/metrics` counts, with every kind of repetition that must not count twice."""
    d, r, dl = tables.disclosures, tables.disclosure_receipts, tables.deliveries
    # Two webhook subscriptions of Glasgow social work: one fails once and is retried, the other
    # fails until dead and is replayed, reaching disclosures the first already delivered.
    receiver.answer("/flaky", 503, 200)
    receiver.answer("/down", 503)
    await subscribe(hub, receiver.url("/flaky"))
    manage = await subscribe(hub, receiver.url("/down"))
    publisher = await hub.token("sps")
    releases = [release() for _ in range(3)]
    await push(hub, publisher, releases)
    for _ in range(2):
        await push(hub, publisher, about_new_person(STORY))
    # A replayed push is a duplicate: no new disclosure.
    again = await hub.http.post("/v1/events", json=releases[0], headers=bearer(publisher))
    assert again.status_code == 200, again.text
    await routed(hub)
    to_social_work = await count(
        hub, sa.select(sa.func.count()).where(d.c.recipient_id == SOCIAL_WORK)
    )
    assert to_social_work >= 5

    async def dead() -> bool:
        listed = await hub.http.get("/v1/deliveries?status=dead", headers=manage)
        return len(listed.json()["deliveries"]) == to_social_work

    await eventually(dead)
    receiver.answer("/down", 200)
    listed = await hub.http.get("/v1/deliveries?status=dead", headers=manage)
    for delivery in listed.json()["deliveries"]:
        replayed = await hub.http.post(f"/v1/deliveries/{delivery['id']}/replay", headers=manage)
        assert replayed.status_code == 200, replayed.text

    async def all_delivered() -> bool:
        done = sa.select(sa.func.count()).where(dl.c.status == "delivered")
        return await count(hub, done) == 2 * to_social_work

    await eventually(all_delivered)
    # Police Scotland reads its feed twice (the second read receives nothing new); Glasgow
    # social work reads it (its disclosures already arrived by webhook) and acknowledges two,
    # one of them twice.
    police = await hub.token("police-scotland", "feed:read")
    for _ in range(2):
        assert (await hub.http.get("/v1/feed", headers=bearer(police))).status_code == 200
    reader = await hub.token(SOCIAL_WORK, "feed:read")
    items = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    for item in (items[0], items[1], items[0]):
        answer = await hub.http.post(
            f"/v1/disclosures/{item['disclosure_id']}/ack", headers=bearer(reader)
        )
        assert answer.status_code in (200, 201), answer.text
    # A month on, the rest are escalated (twice asked: once done), and routed on.
    assert await monitor(hub, 30).run_once() > 0
    assert await monitor(hub, 31).run_once() == 0
    await routed(hub)

    # Each disclosure received once, whatever the number of deliveries and reads.
    receipts = await count(hub, sa.select(sa.func.count()).select_from(r))
    webhook_receipts = await count(hub, sa.select(sa.func.count()).where(r.c.channel == "webhook"))
    assert webhook_receipts == to_social_work
    assert receipts > webhook_receipts  # and Police Scotland's by its feed
    assert len(receiver.at("/flaky")) == to_social_work + 1


async def test_after_a_realistic_run_every_figure_equals_the_recount(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        await realistic_run(hub, receiver)
        store = SqlLatencyStore(hub.container.engine)
        counted = await assert_agree_now_and_later(store)
        scraped = await hub.http.get("/metrics")

    assert sum(counted.escalated.values()) > 0
    assert sum(counted.acknowledged.values()) == 2
    assert OVERDUE_EVENT_TYPE in {event_type for _, event_type in counted.disclosures}
    assert {channel for _, _, channel in counted.delivered} >= {"webhook"}
    # What the endpoint exports is the running totals, series names and labels unchanged.
    exported = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scraped.text)
        if family.name.startswith(("pph_disclosure", "pph_overdue_escalations"))
        for s in family.samples
    }
    expected = exposition(counted)
    assert {k for k in exported if not k[0].startswith("pph_disclosures_overdue")} == {
        k for k in expected if not k[0].startswith("pph_disclosures_overdue")
    }
    for key, value in expected.items():
        if key[0].startswith("pph_disclosures_overdue"):
            continue  # a gauge of now: zero at both moments here, checked above
        assert exported[key] == pytest.approx(value, rel=1e-9), key


async def test_the_overdue_list_holds_exactly_the_unacknowledged_disclosures_with_a_time(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        await realistic_run(hub, receiver)
        d, a, x = tables.disclosures, tables.disclosure_acks, tables.overdue_escalations
        w = tables.awaiting_acknowledgements
        expected = await rows(
            hub,
            sa.select(d.c.disclosure_id, x.c.disclosure_id.label("escalated"), d.c.event_type)
            .outerjoin(a, a.c.disclosure_id == d.c.disclosure_id)
            .outerjoin(x, x.c.disclosure_id == d.c.disclosure_id)
            .where(d.c.acknowledge_within_seconds.is_not(None), a.c.disclosure_id.is_(None)),
        )
        listed = await rows(hub, sa.select(w.c.disclosure_id, w.c.escalate))

    assert expected
    assert {r["disclosure_id"]: r["escalate"] for r in listed} == {
        r["disclosure_id"]: r["escalated"] is None and r["event_type"] != OVERDUE_EVENT_TYPE
        for r in expected
    }


async def test_the_backfill_after_a_downgrade_gives_the_same_figures(
    database: Database, receiver: Receiver
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        await realistic_run(hub, receiver)
    store = SqlLatencyStore(database.engine)
    now = datetime.now(UTC)
    before = await store.metrics(now, LATENCY_BUCKETS)
    w = tables.awaiting_acknowledgements
    async with database.engine.connect() as connection:
        awaiting_before = sorted((await connection.execute(sa.select(w))).all())

    await schema_at(database, "0020")
    await migrate(database.settings)

    after, scanned = await both(store, now)
    assert_agree(after, before)
    assert_agree(after, scanned)
    async with database.engine.connect() as connection:
        awaiting_after = sorted((await connection.execute(sa.select(w))).all())
    assert awaiting_after == awaiting_before


async def test_recount_metrics_repairs_what_older_code_changed_without_counting(
    database: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_hub(hub_settings(database)) as hub:
        await realistic_run(hub, receiver)
        d, a = tables.disclosures, tables.disclosure_acks
        # A pod still on 0020 during the rollout acknowledges a disclosure without counting it.
        [unseen] = await rows(
            hub,
            sa.select(d)
            .outerjoin(a, a.c.disclosure_id == d.c.disclosure_id)
            .where(
                a.c.disclosure_id.is_(None),
                d.c.acknowledge_within_seconds.is_not(None),
                d.c.event_type != OVERDUE_EVENT_TYPE,
            )
            .order_by(d.c.disclosure_id)
            .limit(1),
        )
        later = datetime.now(UTC) + timedelta(days=40)
        async with hub.container.engine.begin() as connection:
            await connection.execute(
                a.insert().values(
                    disclosure_id=unseen["disclosure_id"],
                    recipient_id=unseen["recipient_id"],
                    client_id="older-pod",
                    acknowledged_at=datetime.now(UTC),
                )
            )
        store = SqlLatencyStore(hub.container.engine)
        stale, scanned = await both(store, later)
        # Uncounted: neither the acknowledgement nor the end of its wait.
        assert stale.acknowledged != scanned.acknowledged
        assert stale.overdue_unacknowledged != scanned.overdue_unacknowledged
        # The monitor honours it all the same: nothing due is left to escalate.
        c = hub.container
        assert not await c.overdue.overdue(later, 100)

        assert await run_cli(database, monkeypatch, "db", "recount-metrics") == 0
        assert_agree(*(await both(store, later)))
        await assert_agree_now_and_later(store)
        # Running it again changes nothing.
        assert await run_cli(database, monkeypatch, "db", "recount-metrics") == 0
        assert_agree(*(await both(store, later)))
