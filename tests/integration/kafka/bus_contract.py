"""One contract for every event bus (`hub.services.bus`), subclassed per implementation: the
in-process bus (`tests/unit/test_bus_inprocess.py`) and Kafka (`test_kafka_bus.py`).

A subclass provides the `bus` fixture: a `BusUnderTest` with a fresh topic. Waits are generous
and no test asserts a timing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter, defaultdict
from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Protocol

import pytest

from hub.domain.notifications import Notification, PersonIdentifier, Publisher, StoredEvent
from hub.services.bus import EventConsumer, EventHandler, EventPublisher

#: How long a test waits for what must happen eventually (never a measure of speed).
PATIENCE = 120.0

PR2 = Publisher(client_id="pr2-test", agency="sps")
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class BusUnderTest(Protocol):
    """A publisher and consumers on one fresh topic of one bus."""

    partitions: int

    def publisher(self) -> EventPublisher: ...

    def consumer(self, group: str, *, batch_size: int = 50) -> EventConsumer: ...


def stored_event(position: int, person: int, version: int) -> StoredEvent:
    """A stored event of person `person`, without a database behind it."""
    person_id = f"person-{person:04d}"
    notification = Notification(
        id=f"evt-{position}",
        source="urn:pph:test:pr2",
        type="custody.transfer",
        version=1,
        time=T0 + timedelta(seconds=position),
        identifiers=(PersonIdentifier("sps_number", str(1_000_000 + person)),),
        data={"from_establishment": "hmp-barlinnie", "to_establishment": "hmp-low-moss"},
        subject=person_id,
    )
    return StoredEvent(position, person_id, version, notification, T0, PR2)


def interleaved(persons: int, per_person: int) -> list[StoredEvent]:
    """`persons` people's streams of `per_person` events each, interleaved in store order."""
    versions: Counter[int] = Counter()
    events = []
    for position in range(1, persons * per_person + 1):
        person = (position * 7919) % persons  # a fixed shuffle: neighbours are other people
        versions[person] += 1
        events.append(stored_event(position, person, versions[person]))
    return events


class IdempotentEffects:
    """What a well-behaved consumer does: applies each person's events once, in stream order,
    de-duplicating by position; and counts how often each event was handed to it."""

    def __init__(self) -> None:
        self.handed: Counter[int] = Counter()
        self.applied: dict[int, StoredEvent] = {}
        self.last_version: dict[str, int] = defaultdict(int)
        self.out_of_order: list[tuple[str, int, int]] = []
        self.changed = asyncio.Event()

    def apply(self, event: StoredEvent) -> None:
        self.handed[event.position] += 1
        if event.position in self.applied:
            return  # a repeat: its effect is already there
        expected = self.last_version[event.person_id] + 1
        if event.stream_version != expected:
            self.out_of_order.append((event.person_id, expected, event.stream_version))
        self.last_version[event.person_id] = event.stream_version
        self.applied[event.position] = event
        self.changed.set()

    async def handle(self, events: Sequence[StoredEvent]) -> None:
        for event in events:
            self.apply(event)

    async def wait_for(self, positions: set[int], seconds: float = PATIENCE) -> None:
        async with asyncio.timeout(seconds):
            while not positions <= self.applied.keys():
                self.changed.clear()
                await self.changed.wait()


@contextlib.asynccontextmanager
async def consuming(
    consumer: EventConsumer, handler: EventHandler
) -> AsyncIterator[asyncio.Task[None]]:
    """Run `consumer` in the background; stop it (and surface its error) on the way out."""
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(handler, stop))
    try:
        yield task
    finally:
        stop.set()
        if not task.done():
            async with asyncio.timeout(PATIENCE):
                await asyncio.wait({task})
    if not task.cancelled() and (error := task.exception()) is not None:
        raise error


async def publish(bus: BusUnderTest, events: Sequence[StoredEvent], chunk: int = 100) -> None:
    publisher = bus.publisher()
    await publisher.start()
    try:
        for start in range(0, len(events), chunk):
            await publisher.publish(events[start : start + chunk])
    finally:
        await publisher.close()


class BusContract:
    """The behaviour every bus implementation must have."""

    @pytest.mark.asyncio
    async def test_each_persons_events_arrive_in_order(self, bus: BusUnderTest) -> None:
        assert bus.partitions > 1
        events = interleaved(persons=60, per_person=15)
        await publish(bus, events)
        effects = IdempotentEffects()
        async with consuming(bus.consumer("in-order"), effects.handle):
            await effects.wait_for({e.position for e in events})
        assert effects.out_of_order == []
        assert set(effects.applied) == {e.position for e in events}
        assert effects.applied == {e.position: e for e in events}, "events changed on the way"

    @pytest.mark.asyncio
    async def test_each_event_keeps_the_trace_it_was_stored_in(self, bus: BusUnderTest) -> None:
        # docs/tracing.md: the router continues the trace the event was stored in.
        events = [
            replace(e, trace_context=f"00-{e.position:032x}-{e.position:016x}-01")
            if e.position % 2
            else e
            for e in interleaved(persons=4, per_person=3)
        ]
        await publish(bus, events)
        effects = IdempotentEffects()
        async with consuming(bus.consumer("traced"), effects.handle):
            await effects.wait_for({e.position for e in events})
        assert effects.applied == {e.position: e for e in events}
        assert {e.trace_context for e in effects.applied.values()} - {None}

    @pytest.mark.asyncio
    async def test_publishing_while_a_consumer_waits_delivers_the_new_events(
        self, bus: BusUnderTest
    ) -> None:
        effects = IdempotentEffects()
        first, second = interleaved(persons=10, per_person=6)[:30], interleaved(10, 6)[30:]
        async with consuming(bus.consumer("live"), effects.handle):
            await publish(bus, first)
            await effects.wait_for({e.position for e in first})
            await publish(bus, second)
            await effects.wait_for({e.position for e in second})
        assert effects.out_of_order == []

    @pytest.mark.asyncio
    async def test_a_group_shares_the_work_and_survives_a_member_killed_mid_batch(
        self, bus: BusUnderTest
    ) -> None:
        events = interleaved(persons=80, per_person=10)
        await publish(bus, events)
        effects = IdempotentEffects()
        by_member: dict[str, set[int]] = {"doomed": set(), "survivor": set()}
        stuck = asyncio.Event()

        async def doomed(batch: Sequence[StoredEvent]) -> None:
            for index, event in enumerate(batch):
                by_member["doomed"].add(event.position)
                effects.apply(event)
                if len(by_member["doomed"]) >= 60 and index < len(batch) - 1:
                    stuck.set()  # part of this batch applied, none of it committed
                    await asyncio.Event().wait()

        async def survivor(batch: Sequence[StoredEvent]) -> None:
            by_member["survivor"].update(e.position for e in batch)
            await effects.handle(batch)
            if not by_member["doomed"]:
                await asyncio.sleep(0.2)  # leave the other member time to join and take a share

        stop_doomed = asyncio.Event()
        victim = asyncio.create_task(bus.consumer("shared", batch_size=20).run(doomed, stop_doomed))
        try:
            async with consuming(bus.consumer("shared", batch_size=20), survivor):
                async with asyncio.timeout(PATIENCE):
                    await stuck.wait()
                victim.cancel()  # abruptly, in the middle of a batch
                with contextlib.suppress(asyncio.CancelledError):
                    await victim
                await effects.wait_for({e.position for e in events})
        finally:
            victim.cancel()
        assert by_member["doomed"], "the work was not shared"
        assert by_member["survivor"], "the work was not shared"
        assert set(effects.handed) == {e.position for e in events}, "at least once"
        assert effects.applied == {e.position: e for e in events}, "effects exactly once"
        assert effects.out_of_order == []
        repeated = {p for p, n in effects.handed.items() if n > 1}
        assert repeated <= by_member["doomed"], "only the killed member's batch is repeated"

    @pytest.mark.asyncio
    async def test_a_failing_handler_stops_the_consumer_and_nothing_is_committed(
        self, bus: BusUnderTest
    ) -> None:
        events = interleaved(persons=5, per_person=4)
        await publish(bus, events)

        async def failing(batch: Sequence[StoredEvent]) -> None:
            raise RuntimeError("the database went away")

        with pytest.raises(RuntimeError, match="the database went away"):
            async with asyncio.timeout(PATIENCE):
                await bus.consumer("failing").run(failing, asyncio.Event())
        effects = IdempotentEffects()
        async with consuming(bus.consumer("failing"), effects.handle):
            await effects.wait_for({e.position for e in events})
        assert effects.out_of_order == []

    @pytest.mark.asyncio
    async def test_a_group_resumes_after_what_it_committed(self, bus: BusUnderTest) -> None:
        first, second = interleaved(8, 5)[:20], interleaved(8, 5)[20:]
        await publish(bus, first)
        effects = IdempotentEffects()
        async with consuming(bus.consumer("resume"), effects.handle):
            await effects.wait_for({e.position for e in first})
        await publish(bus, second)
        later = IdempotentEffects()
        async with consuming(bus.consumer("resume"), later.handle):
            await later.wait_for({e.position for e in second})
        assert set(later.handed) == {e.position for e in second}
