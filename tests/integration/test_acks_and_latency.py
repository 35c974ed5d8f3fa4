"""Acknowledgements (`POST /v1/disclosures/{id}/ack`), disclosure latencies and `/metrics` on
both backends: the first acknowledgement stands, only the recipient can make it, and the
Prometheus exposition parses and counts exactly what the tables hold."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import pytest_asyncio
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families

from hub.infra import tables
from hub.infra.latency import SqlLatencyStore
from hub.services.latency import LATENCY_BUCKETS, LatencyService
from tests.conftest import Database
from tests.integration.api_helpers import RunningHub, bearer, running_hub
from tests.integration.feed_helpers import about_new_person, push, routed, rows

GLASGOW_SW = "sw-glasgow-city"
STORY = ("custody.admission", "release.schedule1-notification")


@pytest_asyncio.fixture
async def hub(database: Database) -> AsyncIterator[RunningHub]:
    settings = database.settings.model_copy(update={"router_poll_interval": 0.05})
    async with running_hub(settings) as running:
        yield running


async def first_item(hub: RunningHub, token: str) -> dict[str, Any]:
    answer = await hub.http.get("/v1/feed", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    item: dict[str, Any] = answer.json()["items"][0]
    return item


@pytest.mark.asyncio
async def test_an_acknowledgement_is_recorded_once_and_the_first_stands(hub: RunningHub) -> None:
    await push(hub, await hub.token("sps"), about_new_person(STORY))
    await routed(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    other_client = await hub.token(GLASGOW_SW, "feed:read")
    disclosure_id = (await first_item(hub, reader))["disclosure_id"]
    url = f"/v1/disclosures/{disclosure_id}/ack"

    first = await hub.http.post(url, headers=bearer(reader))
    second = await hub.http.post(url, headers=bearer(other_client))

    assert first.status_code == 201, first.text
    assert second.status_code == 200, second.text
    assert first.json()["duplicate"] is False
    assert second.json()["duplicate"] is True
    assert second.json()["acknowledged_at"] == first.json()["acknowledged_at"]
    assert second.json()["client_id"] == first.json()["client_id"]
    assert first.json()["on_time"] is True
    acks = await rows(hub, sa.select(tables.disclosure_acks))
    assert [(a["disclosure_id"], a["recipient_id"]) for a in acks] == [(disclosure_id, GLASGOW_SW)]
    shown = (await hub.http.get(f"/v1/disclosures/{disclosure_id}", headers=bearer(reader))).json()
    assert shown["acknowledged_at"] == first.json()["acknowledged_at"]
    assert shown["latency_seconds"]["decision_to_acknowledgement"] >= 0


@pytest.mark.asyncio
async def test_acknowledgements_at_once_record_one(hub: RunningHub) -> None:
    await push(hub, await hub.token("sps"), about_new_person(STORY))
    await routed(hub)
    tokens = [await hub.token(GLASGOW_SW, "feed:read") for _ in range(4)]
    disclosure_id = (await first_item(hub, tokens[0]))["disclosure_id"]

    answers = await asyncio.gather(
        *(hub.http.post(f"/v1/disclosures/{disclosure_id}/ack", headers=bearer(t)) for t in tokens)
    )

    assert sorted(a.status_code for a in answers) == [200, 200, 200, 201]
    assert len({a.json()["acknowledged_at"] for a in answers}) == 1
    assert len(await rows(hub, sa.select(tables.disclosure_acks))) == 1


@pytest.mark.asyncio
async def test_only_the_recipient_can_acknowledge(hub: RunningHub) -> None:
    await push(hub, await hub.token("sps"), about_new_person(STORY))
    await routed(hub)
    disclosure_id = (await first_item(hub, await hub.token(GLASGOW_SW, "feed:read")))[
        "disclosure_id"
    ]

    for agency in ("sw-fife", "police-division-g", "sps"):
        token = await hub.token(agency, "feed:read")
        answer = await hub.http.post(f"/v1/disclosures/{disclosure_id}/ack", headers=bearer(token))
        assert answer.status_code == 404, (agency, answer.text)
    no_scope = await hub.token(GLASGOW_SW, "events:read")
    answer = await hub.http.post(f"/v1/disclosures/{disclosure_id}/ack", headers=bearer(no_scope))
    assert answer.status_code == 403
    assert await rows(hub, sa.select(tables.disclosure_acks)) == []


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Any, suffix: str = "") -> dict[tuple[tuple[str, str], ...], float]:
    return {
        tuple(sorted(s.labels.items())): s.value
        for s in family.samples
        if s.name == family.name + suffix
    }


async def grouped(hub: RunningHub, join: Any, *extra: Any) -> Counter[tuple[Any, ...]]:
    d = tables.disclosures
    query = sa.select(d.c.recipient_id, d.c.event_type, *extra).select_from(join)
    found: Counter[tuple[Any, ...]] = Counter()
    for row in await rows(hub, query):
        found[tuple(row.values())] += 1
    return found


def by_labels(counts: Counter[tuple[Any, ...]], *names: str) -> dict[Any, float]:
    return {
        tuple(sorted(zip(("recipient", "event_type", *names), key, strict=True))): float(n)
        for key, n in counts.items()
    }


@pytest.mark.asyncio
async def test_metrics_parse_and_count_what_the_tables_hold(hub: RunningHub) -> None:
    publisher = await hub.token("sps")
    for _ in range(2):
        await push(hub, publisher, about_new_person(STORY))
    await routed(hub)
    # Scraped before the third person and the reads and acknowledgements below: the series
    # they change or add must be written anew by the last scrape, not kept from this one
    # (`hub.api.delivery_metrics` keeps each series' text while its figures stay the same).
    assert (await hub.http.get("/metrics")).status_code == 200
    await push(hub, publisher, about_new_person(STORY))
    await routed(hub)
    # Glasgow social work reads its feed and acknowledges two of three; Police Scotland reads one
    # (housing's are held for review since issue 15, so they are in no feed).
    reader = await hub.token(GLASGOW_SW, "feed:read")
    items = (await hub.http.get("/v1/feed", headers=bearer(reader))).json()["items"]
    for item in items[:2]:
        acked = await hub.http.post(
            f"/v1/disclosures/{item['disclosure_id']}/ack", headers=bearer(reader)
        )
        assert acked.status_code == 201
    police = await hub.token("police-scotland", "feed:read")
    await hub.http.get("/v1/feed?limit=1", headers=bearer(police))

    answer = await hub.http.get("/metrics")  # no token: it holds no personal data

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    found = families(answer.text)
    d, r, a = tables.disclosures, tables.disclosure_receipts, tables.disclosure_acks
    decided = await grouped(hub, d)
    delivered = await grouped(hub, d.join(r, r.c.disclosure_id == d.c.disclosure_id), r.c.channel)
    acknowledged = await grouped(hub, d.join(a, a.c.disclosure_id == d.c.disclosure_id))
    assert samples(found["pph_disclosures"], "_total") == by_labels(decided)
    assert samples(found["pph_disclosure_deliveries"], "_total") == by_labels(delivered, "channel")
    assert samples(found["pph_disclosure_acknowledgements"], "_total") == by_labels(acknowledged)
    assert sum(delivered.values()) == 4
    assert sum(acknowledged.values()) == 2
    assert samples(found["pph_overdue_escalations"], "_total") == {}
    assert samples(found["pph_disclosures_overdue_unacknowledged"]) == {}
    # Histograms: one series per (recipient, event type) observed, as many observations as
    # rows, cumulative buckets ending at +Inf = count.
    delivered_any: Counter[tuple[Any, ...]] = Counter()
    for key, n in delivered.items():
        delivered_any[key[:2]] += n
    for name, expected in (
        ("pph_disclosure_event_to_decision_seconds", decided),
        ("pph_disclosure_intake_to_decision_seconds", decided),
        ("pph_disclosure_decision_to_delivery_seconds", delivered_any),
        ("pph_disclosure_decision_to_acknowledgement_seconds", acknowledged),
    ):
        family = found[name]
        assert family.type == "histogram"
        assert samples(family, "_count") == by_labels(expected), name
        buckets: dict[Any, list[tuple[float, float]]] = {}
        for sample in family.samples:
            if sample.name == name + "_bucket":
                key = (sample.labels["recipient"], sample.labels["event_type"])
                buckets.setdefault(key, []).append((float(sample.labels["le"]), sample.value))
        for key, series in buckets.items():
            bounds = [b for b, _ in series]
            counts = [c for _, c in series]
            assert bounds == [*LATENCY_BUCKETS, float("inf")]
            assert counts == sorted(counts)
            assert counts[-1] == expected[key]
    # Intake to decision is the router's delay: well under a minute here.
    intake = found["pph_disclosure_intake_to_decision_seconds"]
    assert all(v < 60 for v in samples(intake, "_sum").values())
    # Notifications are from 2023: event to decision is more than a year for every one.
    late = samples(found["pph_disclosure_event_to_decision_seconds"], "_bucket")
    assert all(v == 0 for labels, v in late.items() if dict(labels)["le"] != "+Inf")
    # Nothing about any person: no hub person id, no identifier value.
    assert "p_" not in answer.text
    assert "person" not in answer.text
    assert all(n["identifiers"]["sps_number"] not in answer.text for n in about_new_person(STORY))


@pytest.mark.asyncio
async def test_the_overdue_gauge_counts_unacknowledged_disclosures_past_their_time(
    hub: RunningHub,
) -> None:
    await push(hub, await hub.token("sps"), about_new_person(STORY))
    await routed(hub)
    reader = await hub.token(GLASGOW_SW, "feed:read")
    item = await first_item(hub, reader)
    await hub.http.post(f"/v1/disclosures/{item['disclosure_id']}/ack", headers=bearer(reader))
    decided = await rows(hub, sa.select(tables.disclosures))
    timed = [d for d in decided if d["acknowledge_within_seconds"] is not None]
    longest = max(d["acknowledge_within_seconds"] for d in timed)
    store = SqlLatencyStore(hub.container.engine)

    now = await LatencyService(store).metrics()
    later = await LatencyService(
        store, clock=lambda: now.now + timedelta(seconds=longest + 60)
    ).metrics()

    assert now.overdue_unacknowledged == {}
    expected = Counter(
        (d["recipient_id"], d["event_type"])
        for d in timed
        if d["disclosure_id"] != item["disclosure_id"]
    )
    assert later.overdue_unacknowledged == dict(expected)
    assert sum(later.overdue_unacknowledged.values()) == len(timed) - 1
