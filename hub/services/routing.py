"""The router: follows the event store in order and decides, for every notification, who
receives it. It brings the person's profile up to the event, asks the policy engine, and records
each permitted recipient as a disclosure and each refused one as a denial.

Records follow the person: when an event receives the person into an establishment, each earlier
notification of their stream is judged again for that establishment (`follows_person_to`), with
the profile as it stands at the admission, and recorded under the admission's position. Such a
record carries the identifiers its rule grants from the person index as it stood at the admission
(the SPS number of a social work risk assessment that named the person by PNC ID), so that the
establishment can match it; the disclosure records them (`Disclosure.supplied_identifiers`).

Idempotent and crash-safe (CONVENTIONS 4): a batch's profiles, disclosures and denials are
recorded in one transaction with the router's checkpoint, and only if the checkpoint is still
where the batch began. A crash loses a whole batch or nothing; a restart carries on from the
checkpoint; and of two routers on one store, the one that records second writes nothing and
reads again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from uuid import uuid4

from hub.domain.disclosures import Disclosure, DisclosureDenial, RoutedBatch
from hub.domain.identity import supplied_identifiers
from hub.domain.notifications import PersonIdentifier, StoredEvent
from hub.domain.person import (
    ADMITTING_TYPES,
    Authorities,
    PersonProfile,
    Status,
    apply,
    receiving_establishment,
)
from hub.domain.person.survival import restore, surviving_statuses
from hub.domain.reviews import Proposal, propose
from hub.errors import InvalidInput
from hub.observability import traces
from hub.services.ports import (
    EventStore,
    PolicyEngine,
    PolicyEvaluation,
    RoutingStore,
)
from hub.services.worker import WorkerLoop, drain

__all__ = [
    "CONSUMER",
    "PolicyFactory",
    "Router",
    "decide",
    "fold_profiles",
    "rebuild_profiles",
]

logger = logging.getLogger("hub.router")

#: The router's name in `consumer_checkpoints`.
CONSUMER = "router"

#: Builds the policy engine in force (the composition root provides it).
PolicyFactory = Callable[[], PolicyEngine]


def _now() -> datetime:
    return datetime.now(UTC)


class Router:
    """Routes every stored notification once, in store order.

    `run_once` routes the next batch; `run` keeps routing until `stop` is set, waking for new
    events on `wakeup` (set by whoever appends) or every `poll_interval` seconds.

    The router keeps the checkpoint it last recorded rather than reading it before each batch:
    recording is conditional on the checkpoint still being where the batch began, so a
    checkpoint another router (or an operator) moved meanwhile makes the record write nothing,
    and the router reads it again.
    """

    def __init__(
        self,
        events: EventStore,
        routing: RoutingStore,
        policy_factory: PolicyFactory,
        *,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        consumer: str = CONSUMER,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        if poll_interval <= 0:
            raise InvalidInput(f"poll_interval must be positive, not {poll_interval}")
        self._events = events
        self._routing = routing
        self._policy_factory = policy_factory
        self._policy: PolicyEngine | None = None
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        #: The checkpoint this router last read or recorded (None: read it before the next
        #: batch).
        self._checkpoint: int | None = None
        self._consumer = consumer
        self._clock = clock
        #: How many batches this router computed that another router had recorded first.
        self.races_lost = 0

    @property
    def policy(self) -> PolicyEngine:
        """The policy engine, built on first use."""
        if self._policy is None:
            self._policy = self._policy_factory()
        return self._policy

    async def run_once(self, limit: int | None = None) -> int:
        """Route the next events after the checkpoint (at most `limit`, default the batch
        size) in one transaction. How many this router routed: 0 when there was nothing new."""
        limit = self._batch_size if limit is None else limit
        if limit < 1:
            raise InvalidInput(f"limit must be at least 1, not {limit}")
        while True:
            if self._checkpoint is None:
                self._checkpoint = await self._routing.checkpoint(self._consumer)
            after = self._checkpoint
            stored = await self._events.read_all(after=after, limit=limit)
            if not stored:
                return 0
            batch = await self.route(after, stored)
            try:
                recorded = await self._routing.record(self._consumer, batch)
            except BaseException:
                self._checkpoint = None  # it may have committed before the fault was seen
                raise
            if recorded:
                self._checkpoint = batch.through
                logger.debug(
                    "routed events %d-%d: %d disclosures, %d denials",
                    stored[0].position,
                    batch.through,
                    len(batch.disclosures),
                    len(batch.denials),
                )
                return len(stored)
            # Another router recorded from the same checkpoint first: what this one computed
            # was thrown away unwritten. Read from the new checkpoint.
            self._checkpoint = None
            self.races_lost += 1
            logger.debug("another router recorded the events after %d first", after)

    def loop(
        self, wakeup: asyncio.Event | None = None, *, poll_interval: float | None = None
    ) -> WorkerLoop:
        """This router in the worker loop: it routes until nothing is new, then waits for
        `wakeup` (set by whoever appends) or `poll_interval` seconds (default: the router's).
        An unavailable database is waited out; any other error stops the router, so that no
        event is ever skipped."""
        return WorkerLoop(
            "router",
            self.run_once,
            idle_seconds=self._poll_interval if poll_interval is None else poll_interval,
            wakeups=(wakeup,),
            lag=self.lag,
        )

    async def run(
        self,
        stop: asyncio.Event,
        wakeup: asyncio.Event | None = None,
        *,
        poll_interval: float | None = None,
    ) -> None:
        """Route until `stop` is set (`loop`)."""
        await self.loop(wakeup, poll_interval=poll_interval).run(stop)

    async def run_until_idle(self) -> int:
        """Route until nothing is left; how many events this router routed."""
        return await drain(self.run_once)

    async def lag(self) -> int:
        """How many stored events this router has still to route."""
        last = await self._events.last_position()
        return max(last - await self._routing.checkpoint(self._consumer), 0)

    async def route(self, after: int, stored: Sequence[StoredEvent]) -> RoutedBatch:
        """Decide `stored` (the events after checkpoint `after`, in order) without recording."""
        profiles = await self._routing.profiles({e.person_id for e in stored})
        decided = await decide(self.policy, self._events, stored, profiles, self._clock())
        touched = {e.person_id for e in stored}
        return RoutedBatch(
            after=after,
            through=stored[-1].position,
            profiles=tuple(profiles[p] for p in sorted(touched)),
            disclosures=tuple(decided.disclosures),
            denials=tuple(decided.denials),
            proposals=tuple(decided.proposals),
        )


async def decide(
    policy: PolicyEngine,
    events: EventStore,
    stored: Sequence[StoredEvent],
    profiles: dict[str, PersonProfile],
    now: datetime,
) -> _Decisions:
    """The decisions on `stored` (in position order, each person's in stream order, none
    missing after the person's profile in `profiles`), bringing `profiles` up to each event.

    Shared by the router that follows the store and the router workers that consume the events
    topic (`hub.services.kafka_router`), so both decide alike."""
    decided = _Decisions(now)
    # The streams of the people an event of the batch may receive into an establishment, read
    # in one go: only the events before each admission are judged, and those are stored
    # already when the batch is read. A stream the batch holds from its start is not read
    # again; a stream missing here is read when it is needed.
    admitted = {e.person_id for e in stored if e.notification.type in ADMITTING_TYPES}
    streams = _streams_begun_in(stored, admitted)
    streams.update(await events.read_streams(admitted - streams.keys()))
    for event in stored:
        # Each event's decision in the trace that stored it (docs/tracing.md).
        with traces.continued(
            "hub.route",
            event.trace_context,
            {"hub.event.type": event.notification.type, "hub.event.position": event.position},
        ):
            before = profiles.get(event.person_id)
            profile = apply(
                before, event.notification, event.position, event.person_id, policy.statuses
            )
            profiles[event.person_id] = profile
            if event.history:
                # An agency's imported history (`hub import`): it builds the profile that later
                # notifications are decided on, and is disclosed to no one, nor does it bring
                # the person's earlier records to an establishment.
                continue
            # As of the notification's own time: a licence that expired before it is over for
            # it. The records that follow the person are judged on this same admission's
            # profile.
            context = profile.as_context(as_of=event.notification.time)
            decided.add(
                event, policy.evaluate(event.notification, context), profile, event.position
            )
            establishment = receiving_establishment(before, profile, event.notification)
            if establishment is None:
                continue
            stream = streams.get(event.person_id)
            if stream is None or stream[-1].position < event.position:
                stream = streams[event.person_id] = await events.read_stream(event.person_id)
            # The person index as of the admission: the subject index links exactly the
            # identifiers the person's notifications carried, so this is what it held then, on
            # every replay.
            held = {
                identifier
                for e in stream
                if e.position <= event.position
                for identifier in e.notification.identifiers
            }
            for earlier in stream:
                if earlier.position >= event.position:
                    continue  # not earlier in store order: judged when it is routed itself
                evaluation = policy.evaluate(
                    earlier.notification, context, follows_person_to=establishment
                )
                decided.add(earlier, evaluation, profile, event.position, held)
    return decided


def _streams_begun_in(
    stored: Sequence[StoredEvent], people: Collection[str]
) -> dict[str, Sequence[StoredEvent]]:
    """The streams of `people` that `stored` holds whole from their first event (stream
    versions 1, 2, 3… with none missing), as far as it holds them: the store has nothing
    earlier for them, so the router need not read them again."""
    found: dict[str, list[StoredEvent]] = {}
    broken: set[str] = set()
    for event in stored:
        person = event.person_id
        if person not in people or person in broken:
            continue
        stream = found.setdefault(person, [])
        if event.stream_version != len(stream) + 1:
            broken.add(person)
            continue
        stream.append(event)
    return {person: stream for person, stream in found.items() if person not in broken}


class _Decisions:
    """The disclosures and denials of one batch, as they are decided."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self.disclosures: list[Disclosure] = []
        self.denials: list[DisclosureDenial] = []
        #: Permitted decisions under reviewed rules: held for review, not delivered.
        self.proposals: list[Proposal] = []

    def add(
        self,
        event: StoredEvent,
        evaluation: PolicyEvaluation,
        profile: PersonProfile,
        trigger_position: int,
        held: set[PersonIdentifier] | None = None,
    ) -> None:
        """Record `evaluation`'s decisions on `event`; with `held` (the person index, for a
        record that follows the person), each disclosure supplies the identifiers it grants."""
        n = event.notification
        for decision in evaluation.decisions:
            if decision.permitted:
                supplied = {} if held is None else supplied_identifiers(n, decision.fields, held)
                disclosure = Disclosure(
                    disclosure_id=f"d_{uuid4().hex}",
                    event_position=event.position,
                    event_id=n.id,
                    source=n.source,
                    event_type=n.type,
                    person_id=event.person_id,
                    recipient_id=decision.recipient_id,
                    fields=tuple(decision.fields),
                    rules=tuple(decision.rules),
                    purposes=tuple(decision.purposes),
                    legal_bases=tuple(decision.legal_bases),
                    policy_version=evaluation.policy_version,
                    profile_position=profile.position,
                    trigger_position=trigger_position,
                    acknowledge_within=decision.acknowledge_within,
                    decided_at=self.now,
                    supplied_identifiers=supplied,
                )
                if decision.review is None:
                    self.disclosures.append(disclosure)
                else:
                    self.proposals.append(propose(disclosure, decision.review))
            else:
                self.denials.append(
                    DisclosureDenial(
                        denial_id=f"dd_{uuid4().hex}",
                        event_position=event.position,
                        event_id=n.id,
                        source=n.source,
                        event_type=n.type,
                        person_id=event.person_id,
                        recipient_id=decision.recipient_id,
                        rules=tuple(decision.rules),
                        reasons=tuple(decision.reasons),
                        purposes=tuple(decision.purposes),
                        legal_bases=tuple(decision.legal_bases),
                        policy_version=evaluation.policy_version,
                        profile_position=profile.position,
                        trigger_position=trigger_position,
                        decided_at=self.now,
                    )
                )


async def fold_profiles(
    events: EventStore,
    authorities: Authorities,
    *,
    through: int,
    survivors: Mapping[str, Sequence[Status]],
) -> dict[str, PersonProfile]:
    """Every person's profile, folded from the store's events up to position `through` under
    the bundle's status `authorities`, with the statuses that outlived retention (`survivors`,
    by person) restored at the position of the event that began each."""
    profiles: dict[str, PersonProfile] = {}
    pending = {p: sorted(s, key=lambda s: s.position) for p, s in survivors.items() if s}

    def restore_until(person_id: str, position: int) -> None:
        waiting = pending.get(person_id, [])
        while waiting and waiting[0].position < position:
            profiles[person_id] = restore(profiles.get(person_id), person_id, waiting.pop(0))

    after = 0
    while after < through:
        page = await events.read_all(after=after, limit=1000)
        if not page:
            break
        for event in page:
            if event.position > through:
                break
            restore_until(event.person_id, event.position)
            profiles[event.person_id] = apply(
                profiles.get(event.person_id),
                event.notification,
                event.position,
                event.person_id,
                authorities,
            )
        after = page[-1].position
    for person_id in pending:
        restore_until(person_id, through + 1)
        while pending[person_id]:  # began after `through`, as stored: kept as they are
            status = pending[person_id].pop(0)
            profiles[person_id] = restore(profiles.get(person_id), person_id, status)
    return profiles


async def rebuild_profiles(
    events: EventStore, routing: RoutingStore, authorities: Authorities, *, consumer: str = CONSUMER
) -> int:
    """Recompute every profile from the store, up to the router's checkpoint, and replace the
    stored ones with them in one transaction. How many profiles there are.

    The statuses that must outlive retention (`hub.domain.person.survival`: Schedule 1,
    indefinite notification requirements) are carried over from the stored profiles, of
    format 1 or 2: the events that began them may have been erased since.

    The profiles always agree with the checkpoint: if a router records a batch first, the
    rebuild starts again from the new checkpoint. To repair wrong profiles (say, after a change
    to the fold), stop the routers first: a batch a router had already computed from the old
    profiles could otherwise still be recorded after the rebuild, for that batch's people."""
    while True:
        checkpoint = await routing.checkpoint(consumer)
        survivors = dict(surviving_statuses(d) for d in await routing.stored_profiles())
        profiles = await fold_profiles(events, authorities, through=checkpoint, survivors=survivors)
        ordered = [profiles[p] for p in sorted(profiles)]
        if await routing.replace_profiles(consumer, checkpoint, ordered):
            return len(ordered)
