"""The delivery worker's batches against a real HTTP receiver, on both backends: a backlog for
one receiver is sent at most `delivery_concurrency_per_receiver` at a time (counted at the
receiver), each webhook once, over kept-alive connections; a batch of outcomes whose audit
write fails is recorded without the one at fault, which stays as it was."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from hub.errors import StoreError, StoreUnavailable
from tests.conftest import Database
from tests.integration.api_helpers import running_hub
from tests.integration.audit_faults import refuse_audit_entries_mentioning
from tests.integration.test_webhooks import (
    SOCIAL_WORK,
    eventually,
    hub_settings,
    push_release,
    rows,
    subscribe,
)
from tests.integration.webhook_receiver import Receiver, running_receiver

pytestmark = pytest.mark.asyncio


@pytest_asyncio.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running_receiver() as running:
        yield running


async def test_a_backlog_reaches_its_receiver_within_the_per_receiver_limit(
    database: Database, receiver: Receiver
) -> None:
    receiver.answer("/sw", 200, delay=0.1, jitter=0.05)
    settings = hub_settings(
        database,
        delivery_enabled=False,
        delivery_concurrency=8,
        delivery_concurrency_per_receiver=3,
        delivery_batch_size=20,
    )
    async with running_hub(settings) as hub:
        await subscribe(hub, SOCIAL_WORK, receiver.url("/sw"))
        for _ in range(24):
            await push_release(hub)
        await hub.container.router().run_until_idle()
        worker = hub.container.delivery_worker()
        stop = asyncio.Event()
        running = asyncio.create_task(worker.run(stop))

        async def all_delivered() -> bool:
            found = await rows(hub, "SELECT status, count(*) AS n FROM deliveries GROUP BY status")
            return {r["status"]: r["n"] for r in found} == {"delivered": 24}

        try:
            await eventually(all_delivered, within=60.0)
        finally:
            stop.set()
            await running
    # Three at a time at the receiver, never more, though eight slots were free.
    assert receiver.most_in_flight["/sw"] == 3
    sent = Counter(r.webhook_id for r in receiver.at("/sw"))
    assert len(sent) == 24
    assert set(sent.values()) == {1}
    # Kept alive: no more connections than sends at once.
    assert len({r.client for r in receiver.at("/sw")}) <= 3
    attempts = await rows(hub, "SELECT count(*) AS n FROM delivery_attempts")
    assert attempts[0]["n"] == 24


async def test_a_batch_whose_audit_write_fails_is_recorded_without_the_one_at_fault(
    database: Database, receiver: Receiver
) -> None:
    """Three outcomes recorded together; the audit entry of one cannot be written: the batch's
    transaction changes nothing, the other two are recorded each with its entry, and the one at
    fault stays pending and claimed, with no attempt, receipt, count or entry (its claim lapses
    and it is sent again, the receiver dedupes by webhook-id)."""
    receiver.answer("/sw", 200)
    settings = hub_settings(database, delivery_enabled=False, delivery_batch_size=10)
    async with running_hub(settings) as hub:
        await subscribe(hub, SOCIAL_WORK, receiver.url("/sw"))
        for _ in range(3):
            await push_release(hub)
        await hub.container.router().run_until_idle()
        jobs = await rows(hub, "SELECT delivery_id FROM deliveries ORDER BY delivery_id")
        assert len(jobs) == 3
        refused = jobs[1]["delivery_id"]
        await refuse_audit_entries_mentioning(database, refused)
        with pytest.raises(StoreError, match="audit write failed") as raised:
            await hub.container.delivery_worker().run_once()
        assert not isinstance(raised.value, StoreUnavailable)
        assert len(receiver.at("/sw")) == 3  # all three were sent
        states = {
            r["delivery_id"]: r["status"]
            for r in await rows(hub, "SELECT delivery_id, status FROM deliveries")
        }
        assert states == {
            jobs[0]["delivery_id"]: "delivered",
            refused: "pending",
            jobs[2]["delivery_id"]: "delivered",
        }
        attempted = await rows(hub, "SELECT delivery_id FROM delivery_attempts")
        assert sorted(a["delivery_id"] for a in attempted) == sorted(
            [jobs[0]["delivery_id"], jobs[2]["delivery_id"]]
        )
        receipts = await rows(hub, "SELECT count(*) AS n FROM disclosure_receipts")
        assert receipts[0]["n"] == 2
        counted = await rows(
            hub,
            "SELECT sum(count) AS n FROM metric_counters WHERE series = 'delivered:webhook'",
        )
        assert counted[0]["n"] == 2
        entries = await rows(hub, "SELECT entry FROM audit_entries WHERE kind = 'delivery'")
        assert len(entries) == 2
        assert not [e for e in entries if refused in e["entry"]]


async def test_one_disclosure_sent_to_two_subscriptions_in_one_batch_is_received_once(
    database: Database, receiver: Receiver
) -> None:
    """Both jobs of a disclosure (its recipient has two subscriptions), sent in one batch and
    recorded as they finish (together, as a rule): each delivered with its attempt and audit
    entry; one first receipt, counted once."""
    receiver.answer("/a", 200)
    receiver.answer("/b", 200)
    settings = hub_settings(database, delivery_enabled=False, delivery_batch_size=10)
    async with running_hub(settings) as hub:
        await subscribe(hub, SOCIAL_WORK, receiver.url("/a"))
        await subscribe(hub, SOCIAL_WORK, receiver.url("/b"))
        await push_release(hub)
        await hub.container.router().run_until_idle()
        await hub.container.delivery_worker().run_once()
        states = await rows(hub, "SELECT disclosure_id, status, attempts FROM deliveries")
        assert [(s["status"], s["attempts"]) for s in states] == [("delivered", 1)] * 2
        assert len({s["disclosure_id"] for s in states}) == 1
        attempts = await rows(hub, "SELECT outcome FROM delivery_attempts")
        assert [a["outcome"] for a in attempts] == ["delivered"] * 2
        receipts = await rows(hub, "SELECT disclosure_id, channel FROM disclosure_receipts")
        assert [(r["disclosure_id"], r["channel"]) for r in receipts] == [
            (states[0]["disclosure_id"], "webhook")
        ]
        counted = await rows(
            hub,
            "SELECT sum(count) AS n FROM metric_counters WHERE series = 'delivered:webhook'",
        )
        assert counted[0]["n"] == 1
        entries = await rows(hub, "SELECT count(*) AS n FROM audit_entries WHERE kind = 'delivery'")
        assert entries[0]["n"] == 2
    assert len(receiver.at("/a")) == len(receiver.at("/b")) == 1
