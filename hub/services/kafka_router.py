"""Router workers in a consumer group: routing, scaled out, consumes the events topic
(`hub.services.bus`) instead of following the store, and several workers share its partitions.

The topic hands over each person's events in stream order on one partition, but at least once: a
crash before the offsets were committed, or two workers overlapping in a rebalance, hands an event
over again, possibly after later ones. So a worker

- opens the sealed sensitive fields of the events handed over (the relay publishes them as the
  store holds them) against the key store, as every read of the store opens them: a field under
  a destroyed key (a crypto-shredded person) is absent, never an error;
- skips the positions already routed (`routed_events`), and records the positions it routes in
  the same transaction as their decisions and profiles; of two workers routing one event the
  second records nothing and routes its batch again from what the first recorded;
- brings each person's profile up to each event in stream order: when the events in hand do not
  follow the profile's last event (a gap: version not previous + 1, as after a repeat of earlier
  events or an event that reached this worker late), it routes the person's missing events first,
  read from the store (`EventStore.read_stream`);
- decides with the same logic as the router that follows the store (`hub.services.routing.decide`),
  so either way an event yields the same decisions;
- returns only once the batch is recorded, after which the consumer commits the offsets.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hub.domain.disclosures import Disclosure, DisclosureDenial
from hub.domain.notifications import StoredEvent
from hub.domain.person import PersonProfile
from hub.domain.reviews import Proposal
from hub.services.bus import EventConsumer
from hub.services.ports import EventStore
from hub.services.routing import PolicyFactory, decide
from hub.services.worker import Backoff, WorkerLoop

__all__ = ["RoutedEvent", "RoutedEventStore", "RoutedEvents", "RouterEvents", "RouterWorker"]

logger = logging.getLogger("hub.router")


@dataclass(frozen=True, slots=True)
class RoutedEvent:
    """An event a worker routed: its position, and where it stands in its person's stream."""

    position: int
    person_id: str
    stream_version: int


@dataclass(frozen=True, slots=True)
class RoutedEvents:
    """What routing a batch of events decided, to be recorded at once with their positions."""

    events: tuple[RoutedEvent, ...]
    #: The profiles of the batch's people, each as of its last event in the batch.
    profiles: tuple[PersonProfile, ...]
    disclosures: tuple[Disclosure, ...]
    denials: tuple[DisclosureDenial, ...]
    #: Permitted decisions held for case-by-case review: not delivered.
    proposals: tuple[Proposal, ...] = ()


class RouterEvents(EventStore, Protocol):
    """The event store as router workers use it: it also opens what the topic hands over."""

    async def open_sealed(self, events: Sequence[StoredEvent]) -> list[StoredEvent]:
        """`events` as published (`read_all(sealed=True)`) with their sealed fields opened, as
        every read of the store opens them: those under destroyed keys left out."""
        ...


class RoutedEventStore(Protocol):
    """Where router workers find what is routed and record what they decide."""

    async def routed(self, positions: Collection[int]) -> set[int]:
        """Those of `positions` already routed."""
        ...

    async def profiles_at(
        self, person_ids: Collection[str]
    ) -> dict[str, tuple[PersonProfile, int | None]]:
        """Each stored profile of those people, with the stream version of its last event
        (None when unknown: the profile was brought up to it by the router following the store)."""
        ...

    async def record_routed(self, batch: RoutedEvents) -> bool:
        """In one transaction: mark `batch.events` routed and store its decisions and profiles.
        False, with nothing written, when any of its events is already routed."""
        ...


def _now() -> datetime:
    return datetime.now(UTC)


class RouterWorker:
    """One member of the router group: `handle` routes a batch from the topic, exactly once."""

    def __init__(
        self,
        events: RouterEvents,
        routing: RoutedEventStore,
        policy_factory: PolicyFactory,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._events = events
        self._routing = routing
        self._policy_factory = policy_factory
        self._clock = clock
        #: Events this worker routed; of them, those it read from the store to fill a gap.
        self.routed = 0
        self.filled = 0
        #: Events handed over that were already routed (by this worker or another).
        self.repeats = 0
        #: Batches another worker recorded first, in part or whole (routed again).
        self.races_lost = 0

    async def handle(self, events: Sequence[StoredEvent]) -> None:
        """Route the events of `events` not yet routed, and any a person's stream is missing
        before them; return once that is recorded."""
        while True:
            batch = await self.route(events)
            if batch is None:
                return
            if await self._routing.record_routed(batch):
                self.routed += len(batch.events)
                logger.debug(
                    "routed %d events: %d disclosures, %d denials",
                    len(batch.events),
                    len(batch.disclosures),
                    len(batch.denials),
                )
                return
            # Another worker recorded some of these first (a rebalance overlap, or a repeat
            # it took over): decide again from what it recorded.
            self.races_lost += 1

    async def route(self, events: Sequence[StoredEvent]) -> RoutedEvents | None:
        """Decide, without recording, the events of `events` not yet routed (None: nothing)."""
        unique = {e.position: e for e in events}
        done = await self._routing.routed(unique)
        self.repeats += len(done)
        # Decided on what the store's readers see, so that the decisions are the in-process
        # router's; only what is still to route is opened.
        fresh = await self._events.open_sealed(
            [unique[position] for position in sorted(unique) if position not in done]
        )
        streams: dict[str, list[StoredEvent]] = {}
        for event in fresh:
            streams.setdefault(event.person_id, []).append(event)
        if not streams:
            return None
        known = await self._routing.profiles_at(streams)
        profiles: dict[str, PersonProfile] = {}
        to_route: list[StoredEvent] = []
        for person_id, handed in streams.items():
            profile, version = known.get(person_id, (None, 0))
            last = 0 if profile is None else profile.position
            if profile is not None:
                profiles[person_id] = profile
            # What the profile has already seen was routed (by the router following the store,
            # if no row says so); what follows it is this person's to route, in version order.
            handed = sorted((e for e in handed if e.position > last), key=_version)
            if not handed:
                continue
            if version is not None and all(
                e.stream_version == version + n for n, e in enumerate(handed, 1)
            ):
                to_route.extend(handed)
                continue
            # A gap: route the person's missing events first, from the store.
            through = max(e.position for e in handed)
            stream = await self._events.read_stream(person_id, after_version=version or 0)
            missing = [e for e in stream if last < e.position <= through]
            self.filled += len(missing) - len(handed)
            to_route.extend(missing)
        if not to_route:
            return None
        to_route.sort(key=lambda e: e.position)
        decided = await decide(
            self._policy_factory(), self._events, to_route, profiles, self._clock()
        )
        touched = sorted({e.person_id for e in to_route})
        return RoutedEvents(
            events=tuple(RoutedEvent(e.position, e.person_id, e.stream_version) for e in to_route),
            profiles=tuple(profiles[p] for p in touched),
            disclosures=tuple(decided.disclosures),
            denials=tuple(decided.denials),
            proposals=tuple(decided.proposals),
        )

    def loop(
        self, consumer: EventConsumer, stop: asyncio.Event, *, retry_interval: float = 1.0
    ) -> WorkerLoop:
        """This worker in the worker loop: it routes what `consumer` hands over until `stop` is
        set. An unavailable database or broker makes it leave the group (its batch uncommitted,
        for whoever takes the partitions) and join again after a backoff starting at
        `retry_interval`; any other error stops it."""

        async def handle(events: Sequence[StoredEvent]) -> None:
            await self.handle(events)
            loop.progressed()

        async def consume() -> bool:
            await consumer.run(handle, stop)
            return False

        loop = WorkerLoop(
            "router",
            consume,
            idle_seconds=retry_interval,
            backoff=Backoff(initial=retry_interval, maximum=max(15.0, retry_interval)),
        )
        return loop

    async def run(
        self, consumer: EventConsumer, stop: asyncio.Event, *, retry_interval: float = 1.0
    ) -> None:
        """Route what `consumer` hands over until `stop` is set (`loop`)."""
        await self.loop(consumer, stop, retry_interval=retry_interval).run(stop)


def _version(event: StoredEvent) -> int:
    return event.stream_version
