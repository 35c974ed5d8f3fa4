"""Each recipient's feed: the disclosures made to it, in the order the router numbered them
(1, 2, 3 … with no gaps), each notification cut down to the fields the recipient was granted;
the receipts that say when a disclosure first reached its recipient, and its acknowledgements.

The feed's number (`seq`) is the only cursor a client needs: a page, a stream or a reconnection
that asks for what comes after the last number it saw neither misses nor repeats anything, and a
client that sees 7 after 5 knows it missed 6. A recipient only ever reads its own feed: every
method takes the recipient, and a disclosure made to another is simply not found.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from hub.domain.audit.builders import Consulted
from hub.domain.audit.entries import JsonValue
from hub.domain.cloudevents import to_cloudevent
from hub.domain.identity import with_supplied
from hub.domain.notifications import Notification, StoredEvent
from hub.errors import InvalidInput, NotFound
from hub.services.audit_queries import ConsultationLog, Principal
from hub.services.rereads import RereadWindow

__all__ = [
    "API_CHANNEL",
    "CLOUDEVENT_NOTIFICATION",
    "ENVELOPE_NOTIFICATION",
    "FEED_CHANNEL",
    "MAX_PAGE_SIZE",
    "NOTIFICATION_VERSIONS",
    "STREAM_CHANNEL",
    "Acknowledgement",
    "DisclosureRecord",
    "FeedEntry",
    "FeedItem",
    "FeedPage",
    "FeedService",
    "FeedStore",
    "Heartbeat",
    "Redactor",
    "StreamEnded",
]

#: How a disclosure first reached its recipient (`disclosure_receipts.channel`).
FEED_CHANNEL: Final = "feed"
STREAM_CHANNEL: Final = "stream"
API_CHANNEL: Final = "api"

MAX_PAGE_SIZE: Final = 1000
#: How many items the stream reads at a time when it is behind.
STREAM_BATCH: Final = 100

#: The shapes of an item's `notification` a reader may ask for (`?notification_version=`):
#: 2, the default, a CloudEvents 1.0 event (`to_cloudevent`); 1, the redacted envelope the feed
#: carried before, kept for readers written against it (docs/cloudevents.md, "Version 1").
NOTIFICATION_VERSIONS: Final = (1, 2)
CLOUDEVENT_NOTIFICATION: Final = 2
ENVELOPE_NOTIFICATION: Final = 1


@dataclass(frozen=True, slots=True)
class DisclosureRecord:
    """A disclosure as the router recorded it: who, what fields, by which rules and why."""

    disclosure_id: str
    recipient_id: str
    event_type: str
    person_id: str
    fields: tuple[str, ...]
    rules: tuple[str, ...]
    purposes: tuple[str, ...]
    legal_bases: tuple[str, ...]
    policy_version: str
    decided_at: datetime
    acknowledge_within_seconds: int | None
    #: Identifiers the hub supplied from its person index (a record that follows the person).
    supplied_identifiers: Mapping[str, str] = field(default_factory=dict)

    @property
    def acknowledge_by(self) -> datetime | None:
        """When the recipient must have acknowledged it, if a rule sets a time."""
        if self.acknowledge_within_seconds is None:
            return None
        return self.decided_at + timedelta(seconds=self.acknowledge_within_seconds)


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One line of a recipient's feed, as stored: its number, the disclosure and the event."""

    seq: int
    disclosure: DisclosureRecord
    event: StoredEvent
    #: Whether a receipt is already recorded (by any channel).
    received: bool


@dataclass(frozen=True, slots=True)
class FeedItem:
    """What the recipient is given for one disclosure: the redacted notification and why."""

    seq: int
    disclosure_id: str
    event_type: str
    person_id: str
    fields: tuple[str, ...]
    purposes: tuple[str, ...]
    legal_bases: tuple[str, ...]
    rules: tuple[str, ...]
    policy_version: str
    decided_at: datetime
    acknowledge_by: datetime | None
    #: The notification with only the granted fields, as a CloudEvents 1.0 structured event
    #: (`hub.domain.cloudevents.to_cloudevent`: identifiers as `pph*` string extensions).
    notification: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The item as the API and the stream send it."""
        return {
            "seq": self.seq,
            "disclosure_id": self.disclosure_id,
            "event_type": self.event_type,
            "person_id": self.person_id,
            "fields": list(self.fields),
            "purposes": list(self.purposes),
            "legal_bases": list(self.legal_bases),
            "rules": list(self.rules),
            "policy_version": self.policy_version,
            "decided_at": self.decided_at.isoformat(),
            "acknowledge_by": None
            if self.acknowledge_by is None
            else self.acknowledge_by.isoformat(),
            "notification": self.notification,
        }


@dataclass(frozen=True, slots=True)
class FeedPage:
    items: tuple[FeedItem, ...]
    #: The cursor for the next page: the last item's number, or the `after` asked for.
    next_after: int
    #: The recipient's highest number now: caught up when `next_after == last_seq`.
    last_seq: int


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Nothing new in the stream, and it is alive."""

    at: datetime


@dataclass(frozen=True, slots=True)
class StreamEnded:
    """The stream's last message: its reader may no longer read (`reason` a short code such as
    `token-expired` or `client-disabled`, `detail` a sentence)."""

    reason: str
    detail: str


#: Says, when asked, why a stream must end now, or None while its reader may go on reading.
StreamGuard = Callable[[], Awaitable[StreamEnded | None]]


@dataclass(frozen=True, slots=True)
class Acknowledgement:
    """A recipient's acknowledgement of a disclosure (the first one; later ones change nothing)."""

    disclosure_id: str
    recipient_id: str
    client_id: str
    acknowledged_at: datetime
    acknowledge_by: datetime | None
    #: False when this disclosure had already been acknowledged (this call recorded nothing).
    recorded: bool

    @property
    def on_time(self) -> bool | None:
        if self.acknowledge_by is None:
            return None
        return self.acknowledged_at <= self.acknowledge_by


class FeedStore(Protocol):
    """The recipient feeds, receipts and acknowledgements in the hub's database."""

    async def last_seq(self, recipient_id: str) -> int:
        """The recipient's highest feed number (0 before its first disclosure)."""
        ...

    async def entries(self, recipient_id: str, after: int, limit: int) -> list[FeedEntry]:
        """The recipient's feed entries numbered above `after`, in order, at most `limit`."""
        ...

    async def entry(self, recipient_id: str, disclosure_id: str) -> FeedEntry | None:
        """The feed entry of that disclosure, if it was made to this recipient."""
        ...

    async def record_receipts(
        self, disclosure_ids: Sequence[str], channel: str, at: datetime
    ) -> int:
        """Record that these disclosures reached their recipient at `at` by `channel`, for each
        that has no receipt yet (a later delivery changes nothing). How many were recorded."""
        ...

    async def acknowledge(
        self, recipient_id: str, disclosure_id: str, client_id: str, at: datetime
    ) -> Acknowledgement | None:
        """Record the recipient's acknowledgement unless one exists; the acknowledgement that
        stands. None if the disclosure was not made to this recipient."""
        ...


class Redactor(Protocol):
    """Cuts a notification down to granted fields (`hub.domain.policy.PolicyBundle`)."""

    def redact(self, notification: Notification, fields: Sequence[str]) -> dict[str, Any]: ...


def _now() -> datetime:
    return datetime.now(UTC)


class FeedService:
    """Reading feeds (a page, one disclosure, a stream) and acknowledging disclosures."""

    def __init__(
        self,
        store: FeedStore,
        redactor: Redactor,
        *,
        rereads: RereadWindow,
        poll_interval: float = 0.25,
        clock: Callable[[], datetime] = _now,
        consultations: ConsultationLog | None = None,
    ) -> None:
        if poll_interval <= 0:
            raise InvalidInput(f"poll_interval must be positive, not {poll_interval}")
        self._store = store
        #: Logs reads of a disclosure after its first (the first is its delivery, which the
        #: store logs with the receipt): a client's first re-read of it for a purpose in each
        #: `rereads` window, so the trail grows with what is read, not with how often.
        self._consultations = consultations
        self._rereads = rereads
        self._redactor = redactor
        self._poll_interval = poll_interval
        self._clock = clock

    async def page(
        self,
        recipient_id: str,
        *,
        after: int = 0,
        limit: int = 100,
        channel: str = FEED_CHANNEL,
        reader: Principal | None = None,
        purpose: str | None = None,
        notification_version: int = CLOUDEVENT_NOTIFICATION,
    ) -> FeedPage:
        """The recipient's disclosures numbered above `after`, at most `limit`, each
        notification in the shape `notification_version` names. Each one read for the first
        time gets its receipt."""
        _check_version(notification_version)
        if after < 0:
            raise InvalidInput(f"after must be 0 or more, not {after}")
        if not 1 <= limit <= MAX_PAGE_SIZE:
            raise InvalidInput(f"limit must be from 1 to {MAX_PAGE_SIZE}, not {limit}")
        # The last number first: entries committed after it was read can only number higher,
        # so `last_seq` never claims the client is caught up when this page missed something.
        last_seq = await self._store.last_seq(recipient_id)
        entries = await self._store.entries(recipient_id, after, limit)
        await self._receive(entries, channel, reader, purpose)
        items = tuple(self._item(entry, notification_version) for entry in entries)
        return FeedPage(
            items=items,
            next_after=items[-1].seq if items else after,
            last_seq=max(last_seq, items[-1].seq if items else 0),
        )

    async def disclosure(
        self,
        recipient_id: str,
        disclosure_id: str,
        *,
        reader: Principal | None = None,
        purpose: str | None = None,
        notification_version: int = CLOUDEVENT_NOTIFICATION,
    ) -> FeedItem:
        """One disclosure made to the recipient; `NotFound` for any other (even if it exists:
        a recipient cannot learn what was disclosed to others)."""
        _check_version(notification_version)
        entry = await self._store.entry(recipient_id, disclosure_id)
        if entry is None:
            raise NotFound(f"no disclosure {disclosure_id!r} was made to {recipient_id}")
        await self._receive([entry], API_CHANNEL, reader, purpose)
        return self._item(entry, notification_version)

    async def acknowledge(
        self, recipient_id: str, disclosure_id: str, client_id: str
    ) -> Acknowledgement:
        """The recipient acknowledges a disclosure made to it. Again: the first stands."""
        acknowledgement = await self._store.acknowledge(
            recipient_id, disclosure_id, client_id, self._clock()
        )
        if acknowledgement is None:
            raise NotFound(f"no disclosure {disclosure_id!r} was made to {recipient_id}")
        return acknowledgement

    async def stream(
        self,
        recipient_id: str,
        *,
        after: int = 0,
        heartbeat_seconds: float = 15.0,
        reader: Principal | None = None,
        purpose: str | None = None,
        guard: StreamGuard | None = None,
        notification_version: int = CLOUDEVENT_NOTIFICATION,
    ) -> AsyncIterator[FeedItem | Heartbeat | StreamEnded]:
        """The recipient's disclosures numbered above `after`: what is there now, then each new
        one within about `poll_interval` of its decision, with a `Heartbeat` at once and then
        whenever `heartbeat_seconds` pass with nothing to send; until `guard` says the reader
        may no longer read (its token expired, its client was disabled), which ends the stream
        with a `StreamEnded` saying why. The guard is asked before every batch and every poll,
        so it must be cheap (the API's caches the client's state).

        While idle each poll is one primary-key read of the recipient's last number; entries are
        read only when it moved, at most `STREAM_BATCH` at a time."""
        _check_version(notification_version)
        if after < 0:
            raise InvalidInput(f"after must be 0 or more, not {after}")
        if heartbeat_seconds <= 0:
            raise InvalidInput(f"heartbeat_seconds must be positive, not {heartbeat_seconds}")
        cursor = after
        next_beat = time.monotonic()
        while True:
            if guard is not None and (ended := await guard()) is not None:
                yield ended
                return
            if await self._store.last_seq(recipient_id) > cursor:
                page = await self.page(
                    recipient_id,
                    after=cursor,
                    limit=STREAM_BATCH,
                    channel=STREAM_CHANNEL,
                    reader=reader,
                    purpose=purpose,
                    notification_version=notification_version,
                )
                for item in page.items:
                    yield item
                    cursor = item.seq
                next_beat = time.monotonic() + heartbeat_seconds
                continue
            now = time.monotonic()
            if now >= next_beat:
                yield Heartbeat(self._clock())
                next_beat = now + heartbeat_seconds
            await asyncio.sleep(min(self._poll_interval, max(next_beat - now, 0.0)))

    async def _receive(
        self,
        entries: Sequence[FeedEntry],
        channel: str,
        reader: Principal | None,
        purpose: str | None,
    ) -> None:
        unreceived = [e.disclosure.disclosure_id for e in entries if not e.received]
        if unreceived:
            await self._store.record_receipts(unreceived, channel, self._clock())
        if self._consultations is None or reader is None:
            return
        stated = "" if purpose is None else purpose
        keys = self._rereads.unlogged(
            (reader.client_id, stated, e.disclosure.disclosure_id) for e in entries if e.received
        )
        if not keys:
            return
        by_id = {e.disclosure.disclosure_id: e for e in entries}
        reread = [by_id[disclosure_id] for _, _, disclosure_id in keys]
        await self._consultations.record(
            [
                Consulted(
                    f"{channel}.disclosure",
                    person_id=e.disclosure.person_id,
                    event_id=e.event.notification.id,
                    source=e.event.notification.source,
                    recipient_id=e.disclosure.recipient_id,
                    fields=e.disclosure.fields,
                )
                for e in reread
            ],
            reader,
            purpose,
            queries=[self._reread_query(e.disclosure.disclosure_id) for e in reread],
        )
        self._rereads.logged(keys)

    def _reread_query(self, disclosure_id: str) -> dict[str, JsonValue]:
        """What a re-read's entry records: the disclosure, and that repeats by the same client
        for the same purpose within the window are not logged again."""
        query: dict[str, JsonValue] = {"disclosure_id": disclosure_id}
        if self._rereads.seconds:
            query["repeats_unlogged_for_seconds"] = self._rereads.seconds
        return query

    def item(self, entry: FeedEntry) -> FeedItem:
        """What the recipient is given for one feed entry (for channels that push it)."""
        return self._item(entry, CLOUDEVENT_NOTIFICATION)

    def _item(self, entry: FeedEntry, notification_version: int) -> FeedItem:
        disclosure = entry.disclosure
        redacted = self._redactor.redact(
            with_supplied(entry.event.notification, disclosure.supplied_identifiers),
            disclosure.fields,
        )
        return FeedItem(
            seq=entry.seq,
            disclosure_id=disclosure.disclosure_id,
            event_type=disclosure.event_type,
            person_id=disclosure.person_id,
            fields=disclosure.fields,
            purposes=disclosure.purposes,
            legal_bases=disclosure.legal_bases,
            rules=disclosure.rules,
            policy_version=disclosure.policy_version,
            decided_at=disclosure.decided_at,
            acknowledge_by=disclosure.acknowledge_by,
            notification=(
                redacted
                if notification_version == ENVELOPE_NOTIFICATION
                else to_cloudevent(redacted, entry.event)
            ),
        )


def _check_version(notification_version: int) -> None:
    if notification_version not in NOTIFICATION_VERSIONS:
        raise InvalidInput(
            f"notification_version must be one of {', '.join(map(str, NOTIFICATION_VERSIONS))},"
            f" not {notification_version}"
        )
