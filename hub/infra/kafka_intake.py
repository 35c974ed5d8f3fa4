"""Kafka intake on aiokafka (`hub.services.kafka_intake`): one consumer group over every agency's
intake topic, committing a batch's offsets only after it was appended or rejected, and the
rejects topic, written by an idempotent `acks=all` producer.

A rejected message keeps its key and bytes as they arrived; its headers say why
(`reject_reason`, `reject_problems` as JSON), and where it came from (`agency`, `source_topic`,
`source_partition`, `source_offset`). The original message's headers are not carried over
(`IntakeMessage` does not keep them): find the original by its source topic, partition and
offset.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer  # type: ignore[import-untyped, unused-ignore]

from hub.infra.kafka_bus import ensure_topics, kafka_errors
from hub.services.kafka_intake import IntakeMessage, Rejection

__all__ = ["KafkaIntakeConsumer", "KafkaRejects", "intake_topic"]

logger = logging.getLogger("hub.intake")


def intake_topic(prefix: str, agency: str) -> str:
    return f"{prefix}{agency}"


class KafkaRejects:
    """`IntakeRejects` on the rejects topic."""

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        *,
        client_id: str = "pph-hub",
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._topic = topic
        self._client_id = client_id
        self._client_options = dict(client_options or {})
        self._producer: Any = None

    async def reject(self, rejections: Sequence[Rejection]) -> None:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                **self._client_options,
            )
            async with kafka_errors("connecting the rejects producer"):
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
            self._producer = producer
        async with kafka_errors("publishing rejects"):
            sent = [
                await self._producer.send(
                    self._topic, value=r.message.value, key=r.message.key, headers=_headers(r)
                )
                for r in rejections
            ]
            await asyncio.gather(*sent)

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            async with kafka_errors("flushing the rejects producer"):
                await producer.stop()


def _headers(rejection: Rejection) -> list[tuple[str, bytes]]:
    message = rejection.message
    return [
        ("reject_reason", rejection.reason.encode("utf-8")),
        ("reject_problems", json.dumps(list(rejection.problems)).encode("utf-8")),
        ("agency", message.agency.encode("utf-8")),
        ("source_topic", message.topic.encode("utf-8")),
        ("source_partition", str(message.partition).encode("ascii")),
        ("source_offset", str(message.offset).encode("ascii")),
    ]


class KafkaIntakeConsumer:
    """One member of the intake group over the intake topics of `agencies`."""

    def __init__(
        self,
        bootstrap: str,
        agencies: Sequence[str],
        group: str,
        *,
        topic_prefix: str,
        rejects_topic: str,
        partitions: int = 3,
        replication_factor: int = 1,
        client_id: str = "pph-hub",
        batch_size: int = 100,
        poll_interval: float = 0.5,
        session_timeout_ms: int = 10_000,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._topics = {intake_topic(topic_prefix, agency): agency for agency in agencies}
        self._group = group
        self._rejects_topic = rejects_topic
        self._partitions = partitions
        self._replication_factor = replication_factor
        self._client_id = client_id
        self._batch_size = batch_size
        self._poll_ms = int(poll_interval * 1000)
        self._session_timeout_ms = session_timeout_ms
        self._client_options = dict(client_options or {})

    async def run(
        self, handler: Callable[[Sequence[IntakeMessage]], Awaitable[None]], stop: asyncio.Event
    ) -> None:
        """Hand each batch to `handler` and commit it once handled, until `stop` is set."""
        await ensure_topics(
            self._bootstrap,
            {**{t: self._partitions for t in self._topics}, self._rejects_topic: self._partitions},
            replication_factor=self._replication_factor,
            client_id=self._client_id,
            client_options=self._client_options,
        )
        consumer = AIOKafkaConsumer(
            *self._topics,
            bootstrap_servers=self._bootstrap,
            client_id=self._client_id,
            group_id=self._group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self._batch_size,
            session_timeout_ms=self._session_timeout_ms,
            heartbeat_interval_ms=max(self._session_timeout_ms // 3, 100),
            **self._client_options,
        )
        async with kafka_errors(f"joining consumer group {self._group!r}"):
            await consumer.start()
        try:
            while not stop.is_set():
                async with kafka_errors("fetching intake messages"):
                    fetched = await consumer.getmany(
                        timeout_ms=self._poll_ms, max_records=self._batch_size
                    )
                batch = {tp: records for tp, records in fetched.items() if records}
                if not batch:
                    continue
                await handler(
                    [
                        IntakeMessage(
                            agency=self._topics[tp.topic],
                            topic=tp.topic,
                            partition=tp.partition,
                            offset=record.offset,
                            key=record.key,
                            value=record.value,
                        )
                        for tp, records in batch.items()
                        for record in records
                    ]
                )
                async with kafka_errors("committing intake offsets"):
                    await consumer.commit(
                        {tp: records[-1].offset + 1 for tp, records in batch.items()}
                    )
        finally:
            async with kafka_errors(f"leaving consumer group {self._group!r}"):
                await asyncio.shield(consumer.stop())
