"""The worker loop: transient failures are retried with growing, jittered backoff, forever, and
the state says so; anything else stops the worker. No timing is asserted: the loop's waits are
recorded by an injected wait that returns at once."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Sequence

import pytest

from hub.errors import BusUnavailable, StoreError, StoreUnavailable
from hub.services.worker import Backoff, WorkerLoop, WorkerStatus, drain, is_transient


class RecordedWaits:
    """Stands in for the loop's wait: records what it was asked to wait for, returns at once."""

    def __init__(self) -> None:
        self.waits: list[tuple[int, float]] = []

    async def __call__(self, events: Sequence[asyncio.Event], seconds: float) -> None:
        self.waits.append((len(events), seconds))
        await asyncio.sleep(0)


class FlakyStep:
    """Fails with each of `failures` in turn, then succeeds once and sets `stop`."""

    def __init__(self, failures: Sequence[Exception], stop: asyncio.Event) -> None:
        self.failures = list(failures)
        self.stop = stop
        self.calls = 0
        self.seen: list[WorkerStatus] = []
        self.loop: WorkerLoop | None = None

    async def __call__(self) -> int:
        self.calls += 1
        assert self.loop is not None
        self.seen.append(self.loop.status())
        if self.failures:
            raise self.failures.pop(0)
        self.stop.set()
        return 1


@pytest.mark.asyncio
async def test_transient_failures_are_retried_with_growing_backoff_until_the_step_succeeds(
    caplog: pytest.LogCaptureFixture,
) -> None:
    stop = asyncio.Event()
    outage = [StoreUnavailable("the event store is unavailable: x")] * 7 + [BusUnavailable("b")]
    step = FlakyStep(outage, stop)
    waits = RecordedWaits()
    backoff = Backoff(initial=0.5, maximum=8.0)
    loop = WorkerLoop(
        "router", step, idle_seconds=1.0, backoff=backoff, rng=random.Random(7), wait=waits
    )
    step.loop = loop
    with caplog.at_level(logging.INFO, logger="hub.worker"):
        await loop.run(stop)

    assert step.calls == len(outage) + 1
    # Before the first call it was running; from the first failure on, retrying, counting.
    assert step.seen[0].state == "running"
    assert [s.state for s in step.seen[1:]] == ["retrying"] * len(outage)
    assert [s.failures for s in step.seen] == list(range(len(outage) + 1))
    assert len({s.since for s in step.seen[1:]}) == 1  # retrying since the first failure
    assert step.seen[-1].last_error == "BusUnavailable"
    # Each retry waited only for `stop`, within its backoff ceiling, the ceilings doubling up to
    # the maximum; the jitter keeps each wait at least half its ceiling (never a tight loop).
    assert all(events == 1 for events, _ in waits.waits)
    ceilings = [backoff.ceiling(n) for n in range(1, len(outage) + 1)]
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0, 8.0]
    for (_, waited), ceiling in zip(waits.waits, ceilings, strict=True):
        assert ceiling / 2 <= waited <= ceiling
    assert len({w for _, w in waits.waits}) > 1  # jittered, not one fixed value
    # Every failure was logged (without the stored data: only the hub's message).
    failures_logged = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert len(failures_logged) == len(outage)
    assert any("recovered after 8 failures" in r.getMessage() for r in caplog.records)
    final = loop.status()
    assert final.state == "stopped"
    assert final.retries == len(outage)
    assert final.failures == 0


@pytest.mark.asyncio
async def test_a_fatal_error_stops_the_worker_and_says_so() -> None:
    stop = asyncio.Event()
    step = FlakyStep([StoreUnavailable("down"), StoreError("the routing store failed")], stop)
    loop = WorkerLoop("router", step, idle_seconds=1.0, wait=RecordedWaits())
    step.loop = loop
    with pytest.raises(StoreError, match="routing store failed"):
        await loop.run(stop)
    status = loop.status()
    assert status.state == "failed"
    assert status.last_error == "StoreError"
    assert step.calls == 2


@pytest.mark.asyncio
async def test_an_idle_step_waits_for_a_wakeup_or_the_idle_interval() -> None:
    stop, wakeup = asyncio.Event(), asyncio.Event()
    results = [3, 0, 1, 0]
    waits = RecordedWaits()

    async def step() -> int:
        done = results.pop(0)
        if not results:
            stop.set()
        return done

    loop = WorkerLoop("relay", step, idle_seconds=2.5, wakeups=(wakeup,), wait=waits)
    await loop.run(stop)
    # Work found: stepped again at once; nothing found: waited on stop and the wakeup.
    assert waits.waits == [(2, 2.5)]


@pytest.mark.asyncio
async def test_lag_is_measured_on_demand_and_kept_through_an_outage() -> None:
    answers: list[int | Exception] = [12, StoreUnavailable("down"), 0]

    async def lag() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def step() -> int:
        return 0

    loop = WorkerLoop("router", step, idle_seconds=1.0, lag=lag)
    assert loop.status().lag is None
    assert await loop.measure_lag() == 12
    assert await loop.measure_lag() == 12  # the database is down: the last measurement stands
    assert await loop.measure_lag() == 0
    assert loop.status().lag == 0


def test_only_what_the_boundary_called_unavailable_is_transient() -> None:
    assert is_transient(StoreUnavailable("x"))
    assert is_transient(BusUnavailable("x"))
    assert not is_transient(StoreError("x"))
    assert not is_transient(ValueError("x"))


@pytest.mark.asyncio
async def test_drain_steps_until_nothing_is_left() -> None:
    results = [5, 2, 0, 9]

    async def step() -> int:
        return results.pop(0)

    assert await drain(step) == 7
    assert results == [9]
