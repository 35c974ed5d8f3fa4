"""The event bus on Apache Kafka (aiokafka): `hub.services.bus` when the hub is scaled out.

- Topics are created when missing, with the partition count and replication factor given
  (`ensure_topics`); an existing topic is left as it is, because adding partitions would move
  people's keys to other partitions and break their order.
- The publisher is idempotent with `acks=all`: `publish` returns once every in-sync replica has
  the events, and Kafka drops the producer's own retries, so a retry never duplicates or
  reorders. Keys are person ids, so aiokafka's default partitioner (murmur2, as Java clients
  use) keeps a person on one partition.
- The consumer commits offsets by hand, only after the handler has returned. A rebalance waits
  for the batch in hand to be handled and committed before it gives the partitions away (the
  revocation listener takes the same lock as a batch), so a rebalance alone never repeats work;
  a crash repeats at most the uncommitted batch, for the handler to de-duplicate by position.

Kafka's errors leave this module as `BusUnavailable` (worth waiting for) or `BusError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from aiokafka import (  # type: ignore[import-untyped, unused-ignore]
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    TopicPartition,
)
from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # type: ignore[import-untyped, unused-ignore]
from aiokafka.errors import (  # type: ignore[import-untyped, unused-ignore]
    CommitFailedError,
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    TopicAlreadyExistsError,
    for_code,
)

from hub.domain.notifications import StoredEvent
from hub.errors import InvalidInput
from hub.services.bus import (
    BusError,
    BusUnavailable,
    EventHandler,
    decode_event,
    encode_event,
    event_headers,
    trace_context_of,
)

__all__ = [
    "KafkaEventConsumer",
    "KafkaEventPublisher",
    "PageMessage",
    "PageProducer",
    "ensure_topics",
    "kafka_errors",
]

logger = logging.getLogger("hub.bus")


def _translate(error: BaseException, doing: str) -> BusError:
    """A Kafka error as the hub's: retriable ones (and timeouts) mean the broker is away."""
    message = f"Kafka failed while {doing}: {type(error).__name__}: {error}".splitlines()[0]
    if isinstance(error, KafkaConnectionError | KafkaTimeoutError | OSError | TimeoutError) or (
        isinstance(error, KafkaError) and error.retriable
    ):
        return BusUnavailable(message)
    return BusError(message)


@asynccontextmanager
async def _translated(doing: str) -> AsyncIterator[None]:
    try:
        yield
    except (KafkaError, OSError, TimeoutError) as error:
        raise _translate(error, doing) from error


async def ensure_topics(
    bootstrap: str,
    partitions: Mapping[str, int],
    *,
    replication_factor: int = 1,
    client_id: str = "pph-hub",
    client_options: Mapping[str, Any] | None = None,
) -> list[str]:
    """Create each topic of `partitions` (name -> partition count) that does not exist yet;
    the names of those created. An existing topic with fewer partitions than asked is logged,
    not changed."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, client_id=client_id, **dict(client_options or {})
    )
    async with _translated("creating topics"):
        await admin.start()
        try:
            response = await admin.create_topics(
                [NewTopic(name, count, replication_factor) for name, count in partitions.items()]
            )
            created = []
            for topic, code, message in response.topic_errors:
                if code == 0:
                    created.append(topic)
                    continue
                error = for_code(code)
                if error is not TopicAlreadyExistsError:
                    raise BusError(
                        f"Kafka refused to create topic {topic!r}: {error.__name__}: {message}"
                    )
            existing = [name for name in partitions if name not in created]
            if existing:
                for described in await admin.describe_topics(existing):
                    have = len(described["partitions"])
                    want = partitions[described["topic"]]
                    if have < want:
                        logger.warning(
                            "topic %s has %d partitions, fewer than the %d configured; it is "
                            "left as it is (adding partitions would move people to others)",
                            described["topic"],
                            have,
                            want,
                        )
            return created
        finally:
            await admin.close()


#: One message of a page: its key (which picks the partition), value and headers.
PageMessage = tuple[bytes, bytes, Sequence[tuple[str, bytes]]]


class PageProducer:
    """One idempotent producer, `acks=all`, sending pages of messages: `send_page` returns once
    the broker has acknowledged every message of the page. Each topic is created the first time
    it is sent to (`ensure_topics`). On any failure the producer is dropped (pending sends
    cancelled, the producer stopped) and the next page starts a new one, with a new producer
    id, so nothing of a failed page is sent behind a later page's back. Shared by the event
    publisher and the Kafka delivery channel (`hub.infra.kafka_delivery`)."""

    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int,
        replication_factor: int,
        client_id: str,
        request_timeout_ms: int,
        client_options: Mapping[str, Any] | None,
        linger_ms: int | None = None,
        name: str = "the producer",
    ) -> None:
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._replication_factor = replication_factor
        self._client_id = client_id
        self._request_timeout_ms = request_timeout_ms
        self._client_options = dict(client_options or {})
        # None leaves aiokafka's own default.
        self._linger = {} if linger_ms is None else {"linger_ms": linger_ms}
        self._name = name
        self._producer: Any = None
        self._topics: set[str] = set()

    async def start(self, topic: str) -> Any:
        """Create `topic` if this producer has not yet, and start the producer if it is not
        running; the producer."""
        if topic not in self._topics:
            await ensure_topics(
                self._bootstrap,
                {topic: self._partitions},
                replication_factor=self._replication_factor,
                client_id=self._client_id,
                client_options=self._client_options,
            )
            self._topics.add(topic)
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                **self._linger,
                request_timeout_ms=self._request_timeout_ms,
                **self._client_options,
            )
            async with _translated(f"connecting {self._name}"):
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
            self._producer = producer
        return self._producer

    async def send_page(self, topic: str, messages: Iterable[PageMessage], *, doing: str) -> None:
        """Send `messages` to `topic` in order, taking each as it is queued; `doing` says what
        for in the error a failure raises."""
        producer = await self.start(topic)
        sent: list[asyncio.Future[Any]] = []
        try:
            async with _translated(doing):
                # `send` only queues (in order, so each partition keeps the given order); the
                # futures settle when the broker has acknowledged.
                for key, value, headers in messages:
                    sent.append(
                        await producer.send(topic, value=value, key=key, headers=list(headers))
                    )
                outcomes = await asyncio.gather(*sent, return_exceptions=True)
                failures = [o for o in outcomes if isinstance(o, BaseException)]
                if failures:
                    raise failures[0]
        except BaseException:
            # Settle whatever is still queued before anyone sends again, and start afresh with
            # a new producer (and producer id) next time: nothing of this page is left to be
            # sent behind a later one's back.
            self._producer = None
            for future in sent:
                future.cancel()
            await asyncio.shield(producer.stop())
            raise

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            async with _translated(f"flushing {self._name}"):
                await producer.stop()


class KafkaEventPublisher:
    """`EventPublisher` on Kafka: one idempotent producer, `acks=all` (`PageProducer`)."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        partitions: int,
        replication_factor: int = 1,
        client_id: str = "pph-hub",
        linger_ms: int = 5,
        request_timeout_ms: int = 30_000,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if partitions < 1:
            raise InvalidInput(f"partitions must be at least 1, not {partitions}")
        self._topic = topic
        self._pages = PageProducer(
            bootstrap,
            partitions=partitions,
            replication_factor=replication_factor,
            client_id=client_id,
            linger_ms=linger_ms,
            request_timeout_ms=request_timeout_ms,
            client_options=client_options,
        )

    async def start(self) -> None:
        await self._pages.start(self._topic)

    async def publish(self, events: Sequence[StoredEvent]) -> None:
        if not events:
            return
        await self._pages.send_page(
            self._topic,
            (
                (event.person_id.encode("utf-8"), encode_event(event), event_headers(event))
                for event in events
            ),
            doing="publishing events",
        )

    async def close(self) -> None:
        await self._pages.close()


class _FinishBatchFirst(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds a rebalance until the batch in hand is handled and committed."""

    def __init__(self, lock: asyncio.Lock) -> None:
        self._lock = lock

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        async with self._lock:
            logger.debug("giving up partitions %s", sorted(p.partition for p in revoked))

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        logger.debug("assigned partitions %s", sorted(p.partition for p in assigned))


class KafkaEventConsumer:
    """`EventConsumer` on Kafka: one member of `group`, committing only what was handled."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        group: str,
        *,
        partitions: int,
        replication_factor: int = 1,
        client_id: str = "pph-hub",
        batch_size: int = 500,
        poll_interval: float = 0.5,
        session_timeout_ms: int = 10_000,
        heartbeat_interval_ms: int = 3_000,
        max_poll_interval_ms: int = 300_000,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        if batch_size < 1:
            raise InvalidInput(f"batch_size must be at least 1, not {batch_size}")
        if poll_interval <= 0:
            raise InvalidInput(f"poll_interval must be positive, not {poll_interval}")
        self._bootstrap = bootstrap
        self._topic = topic
        self._group = group
        self._partitions = partitions
        self._replication_factor = replication_factor
        self._client_id = client_id
        self._batch_size = batch_size
        self._poll_ms = int(poll_interval * 1000)
        self._timeouts = {
            "session_timeout_ms": session_timeout_ms,
            "heartbeat_interval_ms": heartbeat_interval_ms,
            "max_poll_interval_ms": max_poll_interval_ms,
        }
        self._client_options = dict(client_options or {})

    async def run(self, handler: EventHandler, stop: asyncio.Event) -> None:
        await ensure_topics(
            self._bootstrap,
            {self._topic: self._partitions},
            replication_factor=self._replication_factor,
            client_id=self._client_id,
            client_options=self._client_options,
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._batch_size,
            **self._timeouts,
            **self._client_options,
        )
        in_batch = asyncio.Lock()
        consumer.subscribe([self._topic], listener=_FinishBatchFirst(in_batch))
        async with _translated(f"joining consumer group {self._group!r}"):
            await consumer.start()
        try:
            while not stop.is_set():
                async with _translated("fetching events"):
                    fetched = await consumer.getmany(
                        timeout_ms=self._poll_ms, max_records=self._batch_size
                    )
                if fetched:
                    async with in_batch:
                        await self._handle(consumer, fetched, handler)
        finally:
            async with _translated(f"leaving consumer group {self._group!r}"):
                await asyncio.shield(consumer.stop())

    async def _handle(
        self, consumer: Any, fetched: dict[Any, list[Any]], handler: EventHandler
    ) -> None:
        # Partitions taken away between the fetch and now belong to another member, which
        # reads them from the last committed offset.
        owned = consumer.assignment()
        batch = {tp: records for tp, records in fetched.items() if tp in owned and records}
        if not batch:
            return
        events = [
            replace(decode_event(record.value), trace_context=trace_context_of(record.headers))
            for records in batch.values()
            for record in records
        ]
        await handler(events)
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
        try:
            async with _translated("committing offsets"):
                await consumer.commit(offsets)
        except BusError as error:
            if not isinstance(error.__cause__, CommitFailedError):
                raise
            # This member was dropped from the group (it went silent past the session or poll
            # timeout); the member that has these partitions now handles the batch again.
            logger.warning("offsets not committed, the group moved on: %s", error.message)


#: Translates aiokafka's errors into the hub's (`BusUnavailable`, `BusError`) for the other Kafka
#: adapters (intake, the delivery channel).
kafka_errors = _translated
