"""The delivery worker's limits: at most `concurrency` sends in flight in all and `per_receiver`
to any one subscription's receiver; a receiver at its limit is not claimed for (a slow one never
fills the worker with jobs that only wait), and each receiver's jobs are sent in claim order."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hub.services.delivery import DeliveryJob, DeliveryWorker, Finish, WebhookResponse
from hub.services.webhook_signing import WebhookSigner, WebhookSigningKey
from tests.unit.test_webhook_rules import JOB


def job(subscription: str, n: int) -> DeliveryJob:
    return replace(
        JOB,
        delivery_id=f"dl_{subscription}_{n:03d}",
        subscription_id=subscription,
        url=f"https://{subscription}.example.gov.uk/pph",
    )


class QueueOfJobs:
    """Due jobs in order; `claim` honours `per_subscription`, `room` and `skip` as the SQL queue
    does."""

    def __init__(self, jobs: list[DeliveryJob]) -> None:
        self.due = list(jobs)
        self.finished: list[str] = []
        self.skipped: list[set[str]] = []
        self.rooms: list[dict[str, int]] = []
        self.claimed: list[list[str]] = []

    async def claim(
        self,
        worker_id: str,
        *,
        now: datetime,
        until: datetime,
        limit: int,
        per_subscription: int | None = None,
        skip: Collection[str] = (),
        room: Mapping[str, int] | None = None,
    ) -> list[DeliveryJob]:
        self.skipped.append(set(skip))
        self.rooms.append(dict(room or {}))
        taken: list[DeliveryJob] = []
        per: Counter[str] = Counter()
        for candidate in self.due:
            if len(taken) == limit:
                break
            if candidate.subscription_id in skip:
                continue
            most = (room or {}).get(candidate.subscription_id, per_subscription)
            if most is not None and per[candidate.subscription_id] >= most:
                continue
            per[candidate.subscription_id] += 1
            taken.append(candidate)
        for claimed in taken:
            self.due.remove(claimed)
        self.claimed.append([claimed.delivery_id for claimed in taken])
        return taken

    async def finish(self, job: DeliveryJob, worker_id: str, finish: Finish) -> bool:
        self.finished.append(job.delivery_id)
        return True


class Receivers:
    """Answers every send after a while; `slow` ones only once `release` is set."""

    def __init__(self, slow: set[str]) -> None:
        self.slow = slow
        self.release = asyncio.Event()
        self.in_flight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()
        self.most_in_all = 0
        self.sent: list[str] = []

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        host = url.split("/")[2].split(".")[0]
        self.sent.append(f"{host}:{headers['webhook-id']}")
        self.in_flight[host] += 1
        self.most[host] = max(self.most[host], self.in_flight[host])
        self.most_in_all = max(self.most_in_all, sum(self.in_flight.values()))
        try:
            if host in self.slow:
                await self.release.wait()
            await asyncio.sleep(0.001)
        finally:
            self.in_flight[host] -= 1
        return WebhookResponse(204, 1.0)


class StoredEvents:
    async def get(self, source: str, event_id: str) -> Any:
        return SimpleNamespace(notification="stored")


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(30):
        while not condition():  # noqa: ASYNC110 - watches a plain list the worker fills
            await asyncio.sleep(0.01)


def worker(queue: QueueOfJobs, receivers: Receivers) -> DeliveryWorker:
    return DeliveryWorker(
        queue,  # type: ignore[arg-type]
        StoredEvents(),  # type: ignore[arg-type]
        receivers,
        lambda notification, fields: {"id": "e-1"},
        signer=WebhookSigner([WebhookSigningKey(Ed25519PrivateKey.generate(), "active")]),
        retry_schedule=(10.0,),
        concurrency=6,
        per_receiver=2,
        batch_size=50,
        poll_interval=0.01,
        clock=lambda: datetime.now(UTC),
    )


@pytest.mark.asyncio
async def test_sends_stay_within_the_limits_and_in_claim_order() -> None:
    jobs = [job(s, n) for n in range(12) for s in ("a", "b", "c", "d")]
    queue, receivers = QueueOfJobs(jobs), Receivers(slow=set())
    stop = asyncio.Event()
    running = asyncio.create_task(worker(queue, receivers).run(stop))
    await until(lambda: len(queue.finished) == len(jobs))
    stop.set()
    await running
    assert sorted(queue.finished) == sorted(j.delivery_id for j in jobs)
    assert max(receivers.most.values()) == 2
    assert receivers.most_in_all <= 6
    for s in "abcd":
        sent = [x for x in receivers.sent if x.startswith(f"{s}:")]
        assert sent == [f"{s}:{j.disclosure_id}" for j in jobs if j.subscription_id == s]


@pytest.mark.asyncio
async def test_a_slow_receiver_takes_only_its_own_slots() -> None:
    slow = [job("slow", n) for n in range(20)]
    fast = [job("fast", n) for n in range(10)]
    queue, receivers = QueueOfJobs(slow + fast), Receivers(slow={"slow"})
    stop = asyncio.Event()
    running = asyncio.create_task(worker(queue, receivers).run(stop))
    # Every fast job is sent while the slow receiver sits on its first two.
    await until(lambda: sum(1 for f in queue.finished if "fast" in f) == len(fast))
    assert receivers.most["slow"] == 2
    assert not [f for f in queue.finished if "slow" in f]
    assert any("slow" in skipped for skipped in queue.skipped)  # not claimed for while full
    receivers.release.set()
    await until(lambda: len(queue.finished) == len(slow) + len(fast))
    stop.set()
    await running


class TimedReceivers(Receivers):
    """Answers at once, reporting each receiver's answer time: `seconds` by host."""

    def __init__(self, seconds: Mapping[str, float]) -> None:
        super().__init__(slow=set())
        self.seconds = seconds

    async def send(self, url: str, headers: Mapping[str, str], body: bytes) -> WebhookResponse:
        await super().send(url, headers, body)
        return WebhookResponse(204, 1000 * self.seconds[url.split("/")[2].split(".")[0]])


@pytest.mark.asyncio
async def test_a_quick_receiver_is_claimed_for_in_batches_a_slow_one_a_few_at_a_time() -> None:
    """Once heard from, a receiver answering in a millisecond has up to `batch_size` jobs
    claimed at once (still sent `per_receiver` at a time); one answering in 20 s (claims last
    60 s) keeps `per_receiver`, so that its claimed jobs do not wait out their claims."""
    jobs = [job(s, n) for n in range(40) for s in ("quick", "slow")]
    queue, receivers = QueueOfJobs(jobs), TimedReceivers({"quick": 0.001, "slow": 20.0})
    delivering = worker(queue, receivers)
    stop = asyncio.Event()
    running = asyncio.create_task(delivering.run(stop))
    await until(lambda: len(queue.finished) == len(jobs))
    stop.set()
    await running
    per_claim = [Counter(j.split("_")[1] for j in claimed) for claimed in queue.claimed]
    assert max(c["quick"] for c in per_claim) > 2
    assert max(c["slow"] for c in per_claim) == 2
    assert max(receivers.most.values()) == 2
    assert delivering.claim_depth("quick") == 50
    assert delivering.claim_depth("slow") == 2
    assert delivering.claim_depth("never-heard-from") == 2
    assert {s for room in queue.rooms for s in room} == {"quick"}
