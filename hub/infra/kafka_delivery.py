"""The Kafka delivery channel's producer (`hub.services.kafka_delivery.DisclosureProducer`):
one idempotent producer, `acks=all`, creating each recipient's topic if it is missing."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer  # type: ignore[import-untyped, unused-ignore]

from hub.infra.kafka_bus import ensure_topics, kafka_errors
from hub.services.kafka_delivery import DisclosureMessage

__all__ = ["KafkaDisclosureProducer"]


class KafkaDisclosureProducer:
    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 1,
        replication_factor: int = 1,
        client_id: str = "pph-hub-delivery",
        request_timeout_ms: int = 30_000,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._replication_factor = replication_factor
        self._client_id = client_id
        self._request_timeout_ms = request_timeout_ms
        self._options = dict(client_options or {})
        self._producer: Any = None
        self._topics: set[str] = set()

    async def send(self, topic: str, messages: Sequence[DisclosureMessage]) -> None:
        if not messages:
            return
        if topic not in self._topics:
            await ensure_topics(
                self._bootstrap,
                {topic: self._partitions},
                replication_factor=self._replication_factor,
                client_id=self._client_id,
                client_options=self._options,
            )
            self._topics.add(topic)
        producer = await self._started()
        sent: list[asyncio.Future[Any]] = []
        try:
            async with kafka_errors(f"publishing disclosures to {topic}"):
                for message in messages:
                    sent.append(
                        await producer.send(
                            topic,
                            value=message.value,
                            key=message.key,
                            headers=list(message.headers),
                        )
                    )
                outcomes = await asyncio.gather(*sent, return_exceptions=True)
                failures = [o for o in outcomes if isinstance(o, BaseException)]
                if failures:
                    raise failures[0]
        except BaseException:
            # Start afresh next time: nothing of this page may be sent behind a later page.
            self._producer = None
            for future in sent:
                future.cancel()
            await asyncio.shield(producer.stop())
            raise

    async def _started(self) -> Any:
        if self._producer is None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                client_id=self._client_id,
                acks="all",
                enable_idempotence=True,
                request_timeout_ms=self._request_timeout_ms,
                **self._options,
            )
            async with kafka_errors("connecting the delivery producer"):
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
            self._producer = producer
        return self._producer

    async def close(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            async with kafka_errors("flushing the delivery producer"):
                await producer.stop()
