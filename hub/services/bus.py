"""The event bus: how stored events travel from the event store to the workers that consume them
when the hub is spread over several processes (DESIGN §3: scaled out).

Two ports and one wire format:

- `EventPublisher` publishes stored events keyed by person, so that one person's events stay in
  order on one partition. `publish` returns only once the bus has acknowledged every event
  durably (Kafka: acks=all from the in-sync replicas); the outbox relay
  (`hub.services.relay`) advances its checkpoint only after that.
- `EventConsumer` delivers them to a handler as one member of a consumer group: the group's
  members share the partitions, each partition's events arrive in order, and a batch counts as
  consumed (its offsets are committed) only after the handler has returned, i.e. after it has
  made its effects durable.

Delivery is at least once. A relay that crashed after the bus acknowledged a batch but before
its checkpoint moved publishes that batch again; a consumer that crashed (or lost its partitions
in a rebalance) before it committed has the batch handled again by whoever takes the partition
over. Consumers must therefore be idempotent and **de-duplicate by event position** (the store's
global position, unique per event): record the positions handled in the same transaction as the
effects, and skip what is already recorded. A person's events carry consecutive stream versions,
so a consumer can also tell a repeat (a version it has already seen) from a gap.

What travels is the event as the `events` table holds it, its sensitive fields sealed under the
person's data key (`hub.domain.protection`): the bus never carries their plaintext, and a
consumer that needs it opens them against the hub's key store, where a destroyed key (a
crypto-shredded person) leaves them out.

Two implementations: `hub.infra.bus_inprocess` (the embedded default, one process) and
`hub.infra.kafka_bus` (Apache Kafka).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from hub.domain.cloudevents import kafka_binary_headers
from hub.domain.notifications import Notification, PersonIdentifier, Publisher, StoredEvent
from hub.errors import BusError, BusUnavailable, MalformedMessage
from hub.observability.traces import TRACEPARENT

__all__ = [
    "HEADER_EVENT_TYPE",
    "HEADER_POSITION",
    "BusError",
    "BusUnavailable",
    "EventConsumer",
    "EventHandler",
    "EventPublisher",
    "MalformedMessage",
    "decode_event",
    "encode_event",
    "event_headers",
    "trace_context_of",
]

#: Message headers (UTF-8 values): the event type and the store position, so that a consumer can
#: filter or de-duplicate without parsing the value. Before them, the CloudEvents Kafka binary
#: mode headers (`event_headers`).
HEADER_EVENT_TYPE = "event_type"
HEADER_POSITION = "position"


#: Called with a batch of events, each partition's in order; returns once its effects are durable.
EventHandler = Callable[[Sequence[StoredEvent]], Awaitable[None]]


class EventPublisher(Protocol):
    """Publishes stored events to the events topic, keyed by person."""

    async def start(self) -> None:
        """Connect, and create the events topic if it is missing."""
        ...

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        """Publish `events` in the order given, each keyed by its person id; return once every
        one is acknowledged durably. Connects first if need be (so a relay can wait out a broker
        that is down). Raises `BusUnavailable` or `BusError` otherwise, in which case any of
        them may or may not have been published (publish them again)."""
        ...

    async def close(self) -> None:
        """Flush what is pending and disconnect."""
        ...


class EventConsumer(Protocol):
    """One member of a consumer group on the events topic."""

    async def run(self, handler: EventHandler, stop: asyncio.Event) -> None:
        """Join the group and hand each batch of this member's partitions to `handler` until
        `stop` is set; then leave the group.

        A batch is committed only after `handler` returned. If `handler` raises, nothing of the
        batch is committed, the member leaves the group and the error propagates: the batch is
        handled again by whichever member takes those partitions (or by this one, restarted).
        """
        ...


# -- the wire format -------------------------------------------------------------------------------


def encode_event(event: StoredEvent) -> bytes:
    """The message value: UTF-8 JSON of the stored event, with the notification as its
    CloudEvents envelope (`Notification.to_envelope`). The body goes as given: the relay gives
    it sealed (`EventStore.read_all(sealed=True)`), so sensitive fields travel as their
    `{"$pph.enc": ...}` ciphertexts and a consumer opens them (`hub.services.kafka_router`)."""
    document = {
        "position": event.position,
        "person_id": event.person_id,
        "stream_version": event.stream_version,
        "recorded_at": event.recorded_at.isoformat(),
        "publisher": {"client_id": event.publisher.client_id, "agency": event.publisher.agency},
        "notification": event.notification.to_envelope(),
    }
    if event.history:  # only when set: live events keep the format older consumers read
        document["history"] = True
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def event_headers(event: StoredEvent) -> list[tuple[str, bytes]]:
    """The message headers: the message is a CloudEvent in Kafka binary content mode whose
    context attributes are the notification's (`ce_specversion`, `ce_id`, `ce_source`,
    `ce_type`, `ce_time`, and `content-type` for the value) and whose data is the stored event
    (`encode_event`); then the hub's own `event_type` and `position`. No identifier goes in a
    header: headers are logged by brokers and tools where values are not."""
    notification = event.notification
    return [
        *kafka_binary_headers(
            {
                "specversion": notification.specversion,
                "id": notification.id,
                "source": notification.source,
                "type": notification.type,
                "time": notification.time.isoformat(),
            }
        ),
        (HEADER_EVENT_TYPE, event.notification.type.encode("utf-8")),
        (HEADER_POSITION, str(event.position).encode("ascii")),
        # The trace the event was stored in (docs/tracing.md): the consuming router continues
        # it. First of its name: the aiokafka instrumentation, when on, adds its send span's.
        *(
            [(TRACEPARENT, event.trace_context.encode("ascii"))]
            if event.trace_context is not None
            else []
        ),
    ]


def trace_context_of(headers: Sequence[tuple[str, bytes | None]]) -> str | None:
    """The first `traceparent` among a message's `headers` (`event_headers`), if any."""
    for name, value in headers:
        if name == TRACEPARENT and value is not None:
            return value.decode("ascii", errors="replace")
    return None


def decode_event(value: bytes) -> StoredEvent:
    """The stored event `encode_event` wrote; `MalformedMessage` when `value` is not one."""
    try:
        document = json.loads(value)
        envelope: Mapping[str, Any] = document["notification"]
        notification = Notification(
            id=envelope["id"],
            source=envelope["source"],
            type=envelope["type"],
            version=_schema_version(envelope["dataschema"], envelope["type"]),
            time=datetime.fromisoformat(envelope["time"]),
            identifiers=tuple(PersonIdentifier(s, v) for s, v in envelope["identifiers"].items()),
            data=envelope["data"],
            subject=envelope.get("subject"),
            specversion=envelope["specversion"],
            datacontenttype=envelope["datacontenttype"],
            raw=envelope,
        )
        return StoredEvent(
            position=int(document["position"]),
            person_id=document["person_id"],
            stream_version=int(document["stream_version"]),
            notification=notification,
            recorded_at=datetime.fromisoformat(document["recorded_at"]),
            publisher=Publisher(
                document["publisher"]["client_id"], document["publisher"]["agency"]
            ),
            history=document.get("history", False) is True,
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise MalformedMessage(f"not a stored event: {type(error).__name__}: {error}") from error


def _schema_version(dataschema: str, event_type: str) -> int:
    prefix = f"urn:pph:events:{event_type}:v"
    if not dataschema.startswith(prefix):
        raise ValueError(f"dataschema {dataschema!r} does not name a version of {event_type}")
    return int(dataschema[len(prefix) :])
