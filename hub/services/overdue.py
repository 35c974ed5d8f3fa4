"""The overdue monitor: finds disclosures their recipient has not acknowledged within the time
the sharing rule sets, and escalates each one once, as a `disclosure.overdue` notification that
the router then routes like any other (the Scotland bundle sends it to the MAPPA coordinator).

Each escalation is appended through the event store with the disclosure's id as its id and a
content that depends only on the disclosure, so a retry after a crash, or a second monitor
running at the same time, finds it already stored (a duplicate) and never escalates twice. The
escalation is then recorded in `overdue_escalations`, insert-if-absent; a disclosure with a
record there is not looked at again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from hub.domain.notifications import Notification, Publisher, StoredEvent
from hub.domain.person import PersonProfile
from hub.domain.policy.directory import Directory
from hub.domain.schemas import SchemaRegistry, dataschema_urn
from hub.errors import EventIdReused, InvalidInput
from hub.services.ports import EventStore
from hub.services.worker import WorkerLoop

__all__ = [
    "OVERDUE_EVENT_TYPE",
    "OVERDUE_PUBLISHER",
    "OVERDUE_SOURCE",
    "OverdueDisclosure",
    "OverdueMonitor",
    "OverdueStore",
    "escalation_area",
]

logger = logging.getLogger("hub.overdue")

OVERDUE_EVENT_TYPE: Final = "disclosure.overdue"
OVERDUE_SOURCE: Final = "urn:pph:hub:overdue"
OVERDUE_PUBLISHER: Final = Publisher("hub", "hub")


@dataclass(frozen=True, slots=True)
class OverdueDisclosure:
    """A disclosure past its acknowledgement time, not acknowledged and not yet escalated."""

    disclosure_id: str
    recipient_id: str
    decided_at: datetime
    acknowledge_within_seconds: int
    #: The notification that was disclosed.
    event: StoredEvent

    @property
    def due_at(self) -> datetime:
        return self.decided_at + timedelta(seconds=self.acknowledge_within_seconds)


class OverdueStore(Protocol):
    async def overdue(self, now: datetime, limit: int) -> list[OverdueDisclosure]:
        """Disclosures with an acknowledgement time that passed before `now`, neither
        acknowledged nor escalated, earliest due first, at most `limit`. Escalations
        themselves are never among them."""
        ...

    async def record_escalation(
        self, disclosure_id: str, event_id: str, escalated_at: datetime
    ) -> bool:
        """Record that the disclosure was escalated as event `event_id`, unless it already is;
        whether this call recorded it."""
        ...


class ProfileReader(Protocol):
    """The people's current profiles (`hub.services.ports.RoutingStore` has them)."""

    async def profiles(self, person_ids: Collection[str]) -> dict[str, PersonProfile]: ...


def _now() -> datetime:
    return datetime.now(UTC)


class OverdueMonitor:
    """`run_once` escalates the overdue disclosures found now; `run` keeps looking every
    `interval` seconds until `stop` is set."""

    def __init__(
        self,
        events: EventStore,
        store: OverdueStore,
        profiles: ProfileReader,
        schemas: SchemaRegistry,
        directory: Directory,
        *,
        interval: float = 30.0,
        batch_size: int = 100,
        clock: Callable[[], datetime] = _now,
        on_appended: Callable[[], None] | None = None,
    ) -> None:
        if interval <= 0:
            raise InvalidInput(f"interval must be positive, not {interval}")
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        self._events = events
        self._store = store
        self._profiles = profiles
        self._schemas = schemas
        self._directory = directory
        self._interval = interval
        self._batch_size = batch_size
        self._clock = clock
        self._on_appended = on_appended

    async def run_once(self) -> int:
        """Escalate every disclosure overdue now; how many escalations this call recorded."""
        recorded = 0
        now = self._clock()
        while True:
            found = await self._store.overdue(now, self._batch_size)
            if not found:
                return recorded
            profiles = await self._profiles.profiles({d.event.person_id for d in found})
            for disclosure in found:
                if await self._escalate(disclosure, profiles.get(disclosure.event.person_id), now):
                    recorded += 1
            if len(found) < self._batch_size:
                return recorded

    async def _step(self) -> bool:
        escalated = await self.run_once()
        if escalated:
            logger.info("escalated %d overdue disclosures", escalated)
        return False  # everything overdue now is escalated: look again after the interval

    def loop(self) -> WorkerLoop:
        """This monitor in the worker loop, looking every `interval` seconds. An unavailable
        database is waited out; any other error stops the monitor (and `/readyz` says so)."""
        return WorkerLoop("overdue", self._step, idle_seconds=self._interval)

    async def run(self, stop: asyncio.Event) -> None:
        """Look for overdue disclosures until `stop` is set (`loop`)."""
        await self.loop().run(stop)

    async def _escalate(
        self, disclosure: OverdueDisclosure, profile: PersonProfile | None, now: datetime
    ) -> bool:
        notification = self._schemas.validate(self.escalation(disclosure, profile))
        try:
            [result] = await self._events.append([notification], publisher=OVERDUE_PUBLISHER)
        except EventIdReused:
            # Stored already by an earlier attempt that read a profile since changed (a
            # different area): that one is the escalation; it is not raised again.
            logger.info("disclosure %s was escalated earlier", disclosure.disclosure_id)
        else:
            if not result.duplicate and self._on_appended is not None:
                self._on_appended()
        return await self._store.record_escalation(disclosure.disclosure_id, notification.id, now)

    def escalation(
        self, disclosure: OverdueDisclosure, profile: PersonProfile | None
    ) -> dict[str, Any]:
        """The `disclosure.overdue` notification for `disclosure` (structured JSON)."""
        original: Notification = disclosure.event.notification
        due_at = disclosure.due_at.astimezone(UTC)
        data: dict[str, Any] = {
            "disclosure_id": disclosure.disclosure_id,
            "recipient_id": disclosure.recipient_id,
            "event_type": original.type,
            "event_id": original.id,
            "event_source": original.source,
            "decided_at": disclosure.decided_at.astimezone(UTC).isoformat(),
            "acknowledge_within_seconds": disclosure.acknowledge_within_seconds,
            "due_at": due_at.isoformat(),
        }
        # The person's areas as of when the disclosure fell due (the escalation's own time).
        person = None if profile is None else profile.as_context(as_of=due_at)
        area = escalation_area(self._directory, disclosure.recipient_id, person)
        if area is not None:
            data["council_area"] = area
        if person is not None and person.get("mappa_area") is not None:
            data["mappa_area"] = person["mappa_area"]
        return {
            "specversion": "1.0",
            "id": disclosure.disclosure_id,
            "source": OVERDUE_SOURCE,
            "type": OVERDUE_EVENT_TYPE,
            # When it fell due, not when it was noticed: the same disclosure always gives the
            # same notification, so a retry is a duplicate.
            "time": due_at.isoformat(),
            "datacontenttype": "application/json",
            "dataschema": dataschema_urn(OVERDUE_EVENT_TYPE, 1),
            "identifiers": {i.scheme: i.value for i in original.identifiers},
            "data": data,
        }


def escalation_area(
    directory: Directory, recipient_id: str, person: Mapping[str, Any] | None
) -> str | None:
    """The council area an escalation about `recipient_id` belongs to: the recipient's own area
    when it serves one; otherwise the person's supervising, home, release or MAPPA area, if the
    recipient serves it (a national body serves them all); otherwise the first area the
    recipient serves; None when nothing places it. `person`: the person's profile attributes
    (`PersonProfile.as_context`)."""
    recipient = directory.get(recipient_id)
    served = sorted(recipient.areas) if recipient is not None else []
    if len(served) == 1:
        return served[0]
    person_areas: Sequence[str | None] = (
        ()
        if person is None
        else tuple(
            person.get(name)
            for name in ("supervising_area", "home_area", "release_area", "mappa_area")
        )
    )
    for gss in person_areas:
        current = directory.canonical_area(gss) if gss is not None else None
        if current is not None and (not served or current in served):
            return current
    return served[0] if served else None
